"""Delivery channels behind one interface: the local sink, Aliyun and Tencent Cloud SMS, JPush."""

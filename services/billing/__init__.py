"""Billing service: fee schedules, cost sharing, hardship waivers, settlement on actuals, payouts (R16-R21)."""

/* The full audit's hottest checks, compiled (issue 17 part 5): a leaf hash, the tree's root over packed
 * leaf hashes, and opening an entry's commitments. SHA-256 is OpenSSL's libcrypto, the one Python's hashlib already loaded, called directly
 * (no EVP context per hash). Built by `make deps` (speedups_build.py); without it the ledger package
 * computes the same answers in Python (commitments.open_entry, full_audit), and a test holds the two
 * paths to the same answers. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <string.h>

typedef struct { unsigned char opaque[256]; } sha_ctx; /* OpenSSL's SHA256_CTX is 112 bytes */
static int (*sha_init)(void *);
static int (*sha_update)(void *, const void *, size_t);
static int (*sha_final)(unsigned char *, void *);

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 (RFC 4648, padded) of a 32-byte digest: 44 characters */
static void b64_digest(const unsigned char *in, char *out) {
    int i, o = 0;
    unsigned v;
    for (i = 0; i < 30; i += 3) {
        v = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    v = ((unsigned)in[30] << 16) | ((unsigned)in[31] << 8);
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = B64[(v >> 6) & 63];
    out[o] = '=';
}

/* Hash the JSON string of UTF-8 text as json.encoder.encode_basestring writes it (ensure_ascii=False):
 * quotes, backslash and control characters escaped, everything else as it is. */
static void update_json_string(sha_ctx *ctx, const char *text, Py_ssize_t n) {
    static const char HEX[] = "0123456789abcdef";
    unsigned char buf[512];
    size_t used = 0;
    Py_ssize_t i;
    buf[used++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (used > sizeof buf - 8) {
            sha_update(ctx, buf, used);
            used = 0;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            buf[used++] = c;
            continue;
        }
        buf[used++] = '\\';
        switch (c) {
        case '"': buf[used++] = '"'; break;
        case '\\': buf[used++] = '\\'; break;
        case '\b': buf[used++] = 'b'; break;
        case '\f': buf[used++] = 'f'; break;
        case '\n': buf[used++] = 'n'; break;
        case '\r': buf[used++] = 'r'; break;
        case '\t': buf[used++] = 't'; break;
        default:
            buf[used++] = 'u';
            buf[used++] = '0';
            buf[used++] = '0';
            buf[used++] = HEX[c >> 4];
            buf[used++] = HEX[c & 15];
        }
    }
    buf[used++] = '"';
    sha_update(ctx, buf, used);
}

/* leaf_hash(data) -> SHA-256(0x00 || data) */
static PyObject *leaf_hash(PyObject *self, PyObject *arg) {
    Py_buffer data;
    sha_ctx ctx;
    unsigned char digest[32];
    static const unsigned char zero = 0;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    sha_init(&ctx);
    sha_update(&ctx, &zero, 1);
    sha_update(&ctx, data.buf, (size_t)data.len);
    sha_final(digest, &ctx);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)digest, 32);
}

/* packed_root(leaf_hashes) -> the RFC 9162 root of leaf hashes laid end to end, 32 bytes each: pairs
 * hashed level by level, SHA-256(0x01 || left || right), an odd last node promoted (merkle.packed_root). */
static PyObject *packed_root(PyObject *self, PyObject *arg) {
    Py_buffer data;
    Py_ssize_t n, m, i;
    unsigned char *level, digest[32];
    static const unsigned char one = 1;
    sha_ctx ctx;
    PyObject *result;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (data.len % 32) {
        PyBuffer_Release(&data);
        PyErr_Format(PyExc_ValueError, "packed leaf hashes are a multiple of 32 bytes, not %zd", data.len);
        return NULL;
    }
    n = data.len / 32;
    if (n == 0) {
        PyBuffer_Release(&data);
        sha_init(&ctx);
        sha_final(digest, &ctx);
        return PyBytes_FromStringAndSize((const char *)digest, 32);
    }
    level = PyMem_RawMalloc((size_t)data.len);
    if (!level) {
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    memcpy(level, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    Py_BEGIN_ALLOW_THREADS
    while (n > 1) {
        for (i = 0, m = 0; i + 1 < n; i += 2, m++) {
            sha_init(&ctx);
            sha_update(&ctx, &one, 1);
            sha_update(&ctx, level + 32 * i, 64);
            sha_final(digest, &ctx);
            memcpy(level + 32 * m, digest, 32);
        }
        if (n & 1)
            memmove(level + 32 * m++, level + 32 * (n - 1), 32);
        n = m;
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)level, 32);
    PyMem_RawFree(level);
    return result;
}

/* open_values(salt, values, commitments, opens, payload, sealed, dumps): check each value against its
 * commitment, base64(SHA-256(salt || name || 0x00 || JSON of the value)), in the order of `values`, and
 * put it back where `opens[name]` = (name bytes with their 0x00, into the payload?, key) says. A str is
 * written as JSON here, any other value by dumps(value) (UTF-8 bytes). Returns True when all open, the
 * name of the first that does not, or None when the Python loop must answer (a name it does not know,
 * text that is not UTF-8, a value dumps refuses). */
static PyObject *open_values(PyObject *self, PyObject *args) {
    Py_buffer salt;
    PyObject *values, *commitments, *opens, *payload, *sealed, *dumps, *name, *value;
    Py_ssize_t pos = 0;
    PyObject *result = Py_True;
    if (!PyArg_ParseTuple(args, "y*O!O!O!O!O!O", &salt, &PyDict_Type, &values, &PyDict_Type, &commitments,
                          &PyDict_Type, &opens, &PyDict_Type, &payload, &PyDict_Type, &sealed, &dumps))
        return NULL;
    while (PyDict_Next(values, &pos, &name, &value)) {
        PyObject *open, *expected, *prefix;
        const char *text, *stated;
        Py_ssize_t n, stated_n;
        sha_ctx ctx;
        unsigned char digest[32];
        char encoded[44];
        open = PyDict_GetItemWithError(opens, name);
        expected = open ? PyDict_GetItemWithError(commitments, name) : NULL;
        if (PyErr_Occurred()) {
            result = NULL;
            break;
        }
        if (!open || !expected || !PyTuple_CheckExact(open) || PyTuple_GET_SIZE(open) != 3 ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(open, 0)) || !PyUnicode_CheckExact(expected)) {
            result = Py_None;
            break;
        }
        prefix = PyTuple_GET_ITEM(open, 0);
        sha_init(&ctx);
        sha_update(&ctx, salt.buf, (size_t)salt.len);
        sha_update(&ctx, PyBytes_AS_STRING(prefix), (size_t)PyBytes_GET_SIZE(prefix));
        if (PyUnicode_CheckExact(value)) {
            text = PyUnicode_AsUTF8AndSize(value, &n);
            if (!text) {
                PyErr_Clear();
                result = Py_None;
                break;
            }
            update_json_string(&ctx, text, n);
        } else {
            PyObject *written = PyObject_CallOneArg(dumps, value);
            if (!written || !PyBytes_CheckExact(written)) {
                PyErr_Clear();
                Py_XDECREF(written);
                result = Py_None;
                break;
            }
            sha_update(&ctx, PyBytes_AS_STRING(written), (size_t)PyBytes_GET_SIZE(written));
            Py_DECREF(written);
        }
        sha_final(digest, &ctx);
        b64_digest(digest, encoded);
        stated = PyUnicode_AsUTF8AndSize(expected, &stated_n);
        if (!stated)
            PyErr_Clear();
        if (!stated || stated_n != 44 || memcmp(stated, encoded, 44) != 0) {
            result = name;
            break;
        }
        if (PyDict_SetItem(PyTuple_GET_ITEM(open, 1) == Py_True ? payload : sealed, PyTuple_GET_ITEM(open, 2),
                           value) < 0) {
            result = NULL;
            break;
        }
    }
    PyBuffer_Release(&salt);
    Py_XINCREF(result);
    return result;
}

static PyMethodDef methods[] = {
    {"leaf_hash", leaf_hash, METH_O, "SHA-256(0x00 || data), the RFC 9162 leaf hash."},
    {"packed_root", packed_root, METH_O, "The RFC 9162 root of packed leaf hashes (merkle.packed_root)."},
    {"open_values", open_values, METH_VARARGS, "Open a format-2 entry's commitments (commitments.open_entry)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) {
    static const char *names[] = {"libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so", NULL};
    void *lib = NULL;
    int i;
    for (i = 0; names[i] && !lib; i++) /* the libcrypto hashlib loaded, else any */
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    for (i = 0; names[i] && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (lib) {
        sha_init = (int (*)(void *))dlsym(lib, "SHA256_Init");
        sha_update = (int (*)(void *, const void *, size_t))dlsym(lib, "SHA256_Update");
        sha_final = (int (*)(unsigned char *, void *))dlsym(lib, "SHA256_Final");
    }
    if (!sha_init || !sha_update || !sha_final) {
        PyErr_SetString(PyExc_ImportError, "libcrypto's SHA256_Init/Update/Final not found");
        return NULL;
    }
    return PyModule_Create(&module);
}

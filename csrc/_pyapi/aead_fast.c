/* cryptobench._aead_fast: the whole-message AEAD calls of the native kernels
 * as CPython methods (METH_FASTCALL), for small records.
 *
 * Why this exists beside the cffi module: a cffi call with the nine
 * arguments of cb_aesgcm_*_encrypt costs about 170 ns before any work, and
 * copying the result out of the scratch buffer (ffi.unpack) another
 * 50-70 ns: more than the C work of a 16-byte record. A method of an
 * extension type takes the bytes objects as they are and writes the result
 * straight into a new bytes object: a 16-byte AES-128-GCM encrypt through
 * the kernel API took 104-129 ns in a plain loop, against 514-567 ns through
 * cffi (Zen 4, 2026-11-27). Everything else (hot paths, encrypt_into, non-bytes
 * buffers, every error) stays on the cffi path in kernels/<family>/native.py.
 *
 * The C kernels are the same sources as cryptobench._native (csrc/aes_gcm,
 * csrc/chacha20_poly1305, csrc/common), compiled into this module too; this
 * file only adds the Python boundary. Rule: this code decides nothing. It
 * takes the fast path only for exact bytes arguments with lengths the C code
 * accepts; any other argument, keyword call or C error code goes to the
 * Python fallback given at construction (the checked cffi path), which
 * validates, converts and raises the documented exception. On a tag failure
 * the C decrypt has already wiped its output, which is freed here unseen,
 * and the fallback raises InvalidTag.
 *
 * The GIL is released around the C call for messages of GIL_RELEASE bytes
 * and more; the arguments are immutable bytes kept alive by the caller and
 * the context is read-only after construction, so concurrent calls on one
 * Sealer are safe. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aes_gcm.h"
#include "chacha20_poly1305.h"

#define KIND_AESGCM 0
#define KIND_CHACHA 1

#define GIL_RELEASE 4096

/* SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits (as kernels/aes_gcm/native.py). */
#define AESGCM_MAX_PT (((int64_t)1 << 36) - 32)

typedef int (*aes_fn)(const cb_aesgcm_ctx *, const uint8_t *, size_t, const uint8_t *, size_t,
                      const uint8_t *, size_t, uint8_t *, size_t);
typedef int (*aes_init_fn)(cb_aesgcm_ctx *, const uint8_t *, size_t);

typedef struct {
    PyObject_HEAD
    int kind;
    Py_ssize_t tag_len;
    void *ctx; /* cb_aesgcm_ctx or cb_chacha_ctx, 64-byte aligned, wiped on free */
    size_t ctx_size;
    aes_fn aes_encrypt, aes_decrypt;
    PyObject *fallback_encrypt, *fallback_decrypt;
} Sealer;

static void wipe(void *p, size_t n) {
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n--) *v++ = 0;
}

static int sealer_init(Sealer *self, PyObject *args, PyObject *kwds) {
    int kind, path;
    Py_ssize_t tag_len;
    Py_buffer key;
    PyObject *fenc, *fdec;
    static char *kwlist[] = {"kind", "path", "key", "tag_length", "fallback_encrypt",
                             "fallback_decrypt", NULL};
    if (self->ctx != NULL) {
        PyErr_SetString(PyExc_TypeError, "Sealer is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iiy*nOO", kwlist, &kind, &path, &key, &tag_len,
                                     &fenc, &fdec))
        return -1;
    int rc = -1;
    if (!PyCallable_Check(fenc) || !PyCallable_Check(fdec)) {
        PyErr_SetString(PyExc_TypeError, "the fallbacks must be callable");
        goto done;
    }
    if (kind == KIND_AESGCM) {
        aes_init_fn init;
        switch (path) {
        case CB_AESGCM_PATH_VAES:
            init = cb_aesgcm_vaes_init;
            self->aes_encrypt = cb_aesgcm_vaes_encrypt;
            self->aes_decrypt = cb_aesgcm_vaes_decrypt;
            break;
        case CB_AESGCM_PATH_AESNI:
            init = cb_aesgcm_aesni_init;
            self->aes_encrypt = cb_aesgcm_aesni_encrypt;
            self->aes_decrypt = cb_aesgcm_aesni_decrypt;
            break;
        case CB_AESGCM_PATH_PORTABLE:
            init = cb_aesgcm_portable_init;
            self->aes_encrypt = cb_aesgcm_portable_encrypt;
            self->aes_decrypt = cb_aesgcm_portable_decrypt;
            break;
        default:
            PyErr_Format(PyExc_ValueError, "unknown AES-GCM path %d", path);
            goto done;
        }
        if (tag_len < 4 || tag_len > 16) {
            PyErr_SetString(PyExc_ValueError, "AES-GCM tag length must be 4..16");
            goto done;
        }
        self->ctx_size = sizeof(cb_aesgcm_ctx);
        if (posix_memalign(&self->ctx, 64, self->ctx_size)) {
            self->ctx = NULL;
            PyErr_NoMemory();
            goto done;
        }
        if (init((cb_aesgcm_ctx *)self->ctx, key.buf, (size_t)key.len) != CB_AESGCM_OK) {
            PyErr_SetString(PyExc_ValueError, "AES-GCM key setup failed (key length or CPU)");
            goto done;
        }
    } else if (kind == KIND_CHACHA) {
        if (tag_len != 16) {
            PyErr_SetString(PyExc_ValueError, "ChaCha20-Poly1305 tags are 16 bytes");
            goto done;
        }
        self->ctx_size = sizeof(cb_chacha_ctx);
        if (posix_memalign(&self->ctx, 64, self->ctx_size)) {
            self->ctx = NULL;
            PyErr_NoMemory();
            goto done;
        }
        if (cb_chacha_ctx_init((cb_chacha_ctx *)self->ctx, path, key.buf, (size_t)key.len) != CB_CHACHA_OK) {
            PyErr_SetString(PyExc_ValueError, "ChaCha20-Poly1305 key setup failed (key length, path or CPU)");
            goto done;
        }
    } else {
        PyErr_Format(PyExc_ValueError, "unknown kind %d", kind);
        goto done;
    }
    self->kind = kind;
    self->tag_len = tag_len;
    Py_INCREF(fenc);
    Py_INCREF(fdec);
    self->fallback_encrypt = fenc;
    self->fallback_decrypt = fdec;
    rc = 0;
done:
    PyBuffer_Release(&key);
    if (rc && self->ctx) {
        wipe(self->ctx, self->ctx_size);
        free(self->ctx);
        self->ctx = NULL;
    }
    return rc;
}

static void sealer_dealloc(Sealer *self) {
    if (self->ctx) {
        wipe(self->ctx, self->ctx_size);
        free(self->ctx);
    }
    Py_XDECREF(self->fallback_encrypt);
    Py_XDECREF(self->fallback_decrypt);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *fallback(PyObject *fn, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (fn == NULL) {
        PyErr_SetString(PyExc_TypeError, "Sealer not initialised");
        return NULL;
    }
    return PyObject_Vectorcall(fn, args, nargsf, kwnames);
}

/* The fast path's arguments: (nonce, text[, aad]) all exact bytes, no keywords. */
static int plain_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    if (kwnames != NULL || nargs < 2 || nargs > 3)
        return 0;
    for (Py_ssize_t i = 0; i < nargs; i++)
        if (!PyBytes_CheckExact(args[i]))
            return 0;
    return 1;
}

static int call_c(Sealer *self, int decrypt, const uint8_t *nonce, size_t nlen, const uint8_t *aad,
                  size_t alen, const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen) {
    if (self->kind == KIND_AESGCM) {
        aes_fn f = decrypt ? self->aes_decrypt : self->aes_encrypt;
        return f((const cb_aesgcm_ctx *)self->ctx, nonce, nlen, aad, alen, in, inlen, out,
                 (size_t)self->tag_len);
    }
    if (decrypt)
        return cb_chacha_aead_decrypt((const cb_chacha_ctx *)self->ctx, nonce, nlen, aad, alen, in,
                                      inlen, out, outlen);
    return cb_chacha_aead_encrypt((const cb_chacha_ctx *)self->ctx, nonce, nlen, aad, alen, in,
                                  inlen, out, outlen);
}

static PyObject *seal_or_open(Sealer *self, int decrypt, PyObject *const *args, size_t nargsf,
                              PyObject *kwnames) {
    PyObject *fb = decrypt ? self->fallback_decrypt : self->fallback_encrypt;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (self->ctx == NULL || !plain_args(args, nargs, kwnames))
        return fallback(fb, args, nargsf, kwnames);
    PyObject *nonce = args[0], *text = args[1];
    Py_ssize_t nlen = PyBytes_GET_SIZE(nonce), tlen = PyBytes_GET_SIZE(text);
    Py_ssize_t alen = nargs == 3 ? PyBytes_GET_SIZE(args[2]) : 0;
    const uint8_t *aad = nargs == 3 ? (const uint8_t *)PyBytes_AS_STRING(args[2]) : NULL;
    Py_ssize_t outlen;
    if (self->kind == KIND_AESGCM) {
        if (nlen < 1)
            return fallback(fb, args, nargsf, kwnames);
        if (decrypt) {
            if (tlen < self->tag_len || tlen - self->tag_len > AESGCM_MAX_PT)
                return fallback(fb, args, nargsf, kwnames);
            outlen = tlen - self->tag_len;
        } else {
            if (tlen > AESGCM_MAX_PT)
                return fallback(fb, args, nargsf, kwnames);
            outlen = tlen + self->tag_len;
        }
    } else {
        if (nlen != 12)
            return fallback(fb, args, nargsf, kwnames);
        if (decrypt) {
            if (tlen < 16 || tlen - 16 > (Py_ssize_t)CB_CHACHA_AEAD_MAX_LEN)
                return fallback(fb, args, nargsf, kwnames);
            outlen = tlen - 16;
        } else {
            if (tlen > (Py_ssize_t)CB_CHACHA_AEAD_MAX_LEN)
                return fallback(fb, args, nargsf, kwnames);
            outlen = tlen + 16;
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, outlen);
    if (out == NULL)
        return NULL;
    const uint8_t *n = (const uint8_t *)PyBytes_AS_STRING(nonce);
    const uint8_t *in = (const uint8_t *)PyBytes_AS_STRING(text);
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(out);
    int rc;
    if (tlen >= GIL_RELEASE) {
        Py_BEGIN_ALLOW_THREADS
        rc = call_c(self, decrypt, n, (size_t)nlen, aad, (size_t)alen, in, (size_t)tlen, o, (size_t)outlen);
        Py_END_ALLOW_THREADS
    } else {
        rc = call_c(self, decrypt, n, (size_t)nlen, aad, (size_t)alen, in, (size_t)tlen, o, (size_t)outlen);
    }
    if (rc == 0)
        return out;
    /* Tag failure (output already wiped by the C code) or a refusal: the
     * result is dropped unseen and the checked path raises the exact error. */
    wipe(o, (size_t)outlen);
    Py_DECREF(out);
    return fallback(fb, args, nargsf, kwnames);
}

static PyObject *sealer_encrypt(Sealer *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    return seal_or_open(self, 0, args, nargsf, kwnames);
}

static PyObject *sealer_decrypt(Sealer *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    return seal_or_open(self, 1, args, nargsf, kwnames);
}

static PyMethodDef sealer_methods[] = {
    {"encrypt", (PyCFunction)(void (*)(void))sealer_encrypt, METH_FASTCALL | METH_KEYWORDS,
     "encrypt(nonce, plaintext, aad=b'') -> ciphertext || tag"},
    {"decrypt", (PyCFunction)(void (*)(void))sealer_decrypt, METH_FASTCALL | METH_KEYWORDS,
     "decrypt(nonce, data, aad=b'') -> plaintext; errors come from the fallback"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SealerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cryptobench._aead_fast.Sealer",
    .tp_basicsize = sizeof(Sealer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Sealer(kind, path, key, tag_length, fallback_encrypt, fallback_decrypt): "
              "one AEAD key with encrypt/decrypt as fast C methods",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)sealer_init,
    .tp_dealloc = (destructor)sealer_dealloc,
    .tp_methods = sealer_methods,
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "cryptobench._aead_fast",
    "Whole-message AEAD calls of the native kernels as CPython methods (csrc/_pyapi/aead_fast.c).",
    -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__aead_fast(void) {
    if (PyType_Ready(&SealerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    Py_INCREF(&SealerType);
    if (PyModule_AddObject(m, "Sealer", (PyObject *)&SealerType) < 0 ||
        PyModule_AddIntConstant(m, "KIND_AESGCM", KIND_AESGCM) < 0 ||
        PyModule_AddIntConstant(m, "KIND_CHACHA", KIND_CHACHA) < 0 ||
        PyModule_AddIntConstant(m, "GIL_RELEASE", GIL_RELEASE) < 0 ||
        PyModule_AddStringConstant(m, "build_flags", CB_BUILD_FLAGS) < 0) {
        Py_DECREF(&SealerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* Declassification points for the memcheck constant-time check.
 *
 * tests/test_ctgrind.py compiles these sources with -DCB_CTGRIND, marks the
 * secret inputs (keys, plaintext, GHASH subkeys, ECDSA private keys and
 * nonces) undefined with memcheck's client requests and runs the public entry
 * points under valgrind: memcheck then reports every branch and every memory
 * address computed from a secret.  A few values derived from secrets are
 * public by design: an AEAD's verdict; an ECDSA signature and the rare event
 * that makes RFC 6979 draw another nonce; whether a secret scalar is in
 * [1, n-1], which the return code says anyway.  CB_DECLASSIFY(p, n) marks the
 * n bytes at p public at the point where the code branches on them, so that
 * the check reports everything else.  In every other build it compiles to
 * nothing. */
#ifndef CRYPTOBENCH_CT_H
#define CRYPTOBENCH_CT_H

#ifdef CB_CTGRIND
#include <valgrind/memcheck.h>
#define CB_DECLASSIFY(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#else
#define CB_DECLASSIFY(p, n) ((void)0)
#endif

#endif

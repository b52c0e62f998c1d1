/* SPDX-License-Identifier: BSD-3-Clause */
/* Helpers shared by the fuzz targets. */

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A copy of n bytes in a buffer of exactly that size, so that
 * AddressSanitizer sees any read past it. */
static inline uint8_t *
dup_exact(const uint8_t *p, size_t n)
{
	/* malloc(0) may return NULL; one spare byte that is never read. */
	uint8_t *q = malloc(n > 0 ? n : 1);

	if (q == NULL)
		abort();
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

#endif /* FUZZ_UTIL_H */

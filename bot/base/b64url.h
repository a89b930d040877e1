/*
 * base64url (RFC 4648 §5) without padding, as used in URLs: the link and
 * upload tokens. Decoding is strict: only the 64 characters of the
 * alphabet, no padding, no white space, and the unused low bits of the
 * last character must be zero, so each byte string has exactly one text.
 */
#ifndef FISBOT_B64URL_H
#define FISBOT_B64URL_H

#include <stddef.h>
#include <sys/types.h>

/* The number of characters of the text of n bytes (no padding). */
#define B64URL_LEN(n) (((n)*4 + 2) / 3)

/* Writes the text of the len bytes at raw and a NUL into out, which has
 * room for B64URL_LEN(len) + 1 characters. */
void b64url_encode(const unsigned char *raw, size_t len, char *out);

/* Decodes the len characters at s into raw (room for max bytes). Returns
 * the number of bytes, or -1 if s is not canonical unpadded base64url or
 * holds more than max bytes. */
ssize_t b64url_decode(const char *s, size_t len, unsigned char *raw,
                      size_t max);

#endif

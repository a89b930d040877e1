/*
 * The ASCII fallback of a Content-Disposition file name (RFC 6266: the
 * filename="..." beside filename*=UTF-8''...), for clients that do not read
 * the UTF-8 one: the name transliterated with iconv's //TRANSLIT ("Café –
 * Unicode.txt" becomes "Cafe - Unicode.txt"), what has no ASCII form and
 * what a quoted string must not hold replaced with '_'.
 */
#ifndef FISBOT_DISPOSITION_H
#define FISBOT_DISPOSITION_H

/* Returns the ASCII fallback for utf8, a valid UTF-8 file name (caller
 * frees). Safe on any thread. */
char *disposition_ascii(const char *utf8);

#endif

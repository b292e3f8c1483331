/*
 * errors.h - how the engine reports failure: a function that can fail
 * writes one line (no newline, no "error:" prefix) into the caller's
 * char err[BN_ERR_LEN] and returns -1.
 */
#ifndef BN_ERRORS_H
#define BN_ERRORS_H

#include "bitnet.h"

/* Formats the message into err (BN_ERR_LEN bytes) and returns -1. */
int bn_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

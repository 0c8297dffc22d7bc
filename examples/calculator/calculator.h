/*
 * calculator.h - the seed's calculator as an aggregate type: every key pressed is an
 * event (DigitPressed, DotPressed, OperatorPressed, EqualsPressed), and the display
 * is folded from them.
 */
#ifndef CALCULATOR_H
#define CALCULATOR_H

#include "evstore_domain.h"

#define CALC_NUMBER_LEN 40 /* characters of an operand as typed */

/* The state: a plain struct, so its snapshots are its bytes. */
typedef struct calculator {
    char left[CALC_NUMBER_LEN + 1];  /* the left operand as typed, or the last result */
    char right[CALC_NUMBER_LEN + 1]; /* the right operand as typed; "" = none yet */
    char op;                         /* '+', '-', '*', '/', or 0 before the first */
    double result;
} calculator;

/* The aggregate type "calculator" with its four commands. */
extern const evs_aggregate_type calculator_type;

#endif

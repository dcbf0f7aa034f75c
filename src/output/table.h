/*
 * table.h - CSV lines turned into an aligned text table, for people reading a terminal.
 *
 * Column widths come from the first FS_TABLE_SAMPLE rows; later rows use the same
 * widths (a wider cell pushes its line out of line, nothing is cut). Cells that
 * look like numbers are right-aligned, others left-aligned. flowsift's CSV never
 * quotes (no field value contains a comma), so a comma always separates cells.
 */
#ifndef FS_TABLE_H
#define FS_TABLE_H

#include <stdio.h>

#include "../util/result.h"

#define FS_TABLE_SAMPLE 1000

/* Reads CSV from `in` (from its current position) and writes the table to `out`. */
fs_result fs_table_print(FILE *in, FILE *out);

#endif

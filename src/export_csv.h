/* Writing the desired set as the MDE portal's CSV import files. */
#ifndef IOCSYNC_EXPORT_CSV_H
#define IOCSYNC_EXPORT_CSV_H

#include <stddef.h>

#include "err.h"
#include "plan.h"

struct export_csv_result {
	size_t rows, files;
	size_t skipped; /* FileMd5 and CertificateThumbprint: the portal's import does not list them */
};

/* Writes w, as sent at now, as PREFIX-001.csv, PREFIX-002.csv, ... (never
 * through a symlink); errors are printed. ERR_IO when a file could not
 * be written. */
enum err export_mde_csv(const struct want *w, size_t nw, long long now, const char *prefix,
			struct export_csv_result *r);

#endif

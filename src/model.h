/*
 * The MDE model: MDE's indicator JSON <-> iocsync's indicators. What MDE
 * lists becomes haves in canonical form with their ownership; a want
 * becomes the JSON MDE imports; what MDE puts in createdBy for this app
 * is learned and kept (spec 9, created-by); the device groups feeds name
 * are checked against MDE's (spec 9, group-names).
 */
#ifndef IOCSYNC_MODEL_H
#define IOCSYNC_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "mde.h"
#include "plan.h"
#include "state.h"
#include "store.h"

/* The enum value of an MDE name ("IpAddress", "Block", "High"):
 * IOC_NONE, -1 and SEV_INFORMATIONAL when it is none. */
int model_type(const char *s);
int model_action(const char *s);
int model_severity(const char *s);

/*
 * What MDE holds, listed (mde_list_each) into compact haves as it streams,
 * compared as iocsync compares its own: each value in its canonical form
 * (MDE may normalise its own way, spec 9 normalize), and owned when
 * iocsync recorded its id or it says it is iocsync's (mde_owned). On the
 * way it learns what MDE puts in createdBy for this app from an indicator
 * iocsync recorded making (*learned; kept in st). *n haves, free with
 * model_haves_free; NULL with why when the listing failed.
 */
struct have *model_list(struct mde *m, struct store *st, const struct state *s, size_t *n, bool *learned, char *why,
			size_t whysz);
void model_haves_free(struct have *h, size_t n);

/* One indicator as sent to MDE at now, appended to out as JSON text
 * (the batch's own text, with no tree in between). Every field iocsync
 * sets is sent, an unset one as null, so that what MDE does with an
 * omitted field (keep it or reset it, spec 9 omitted-fields) never
 * matters. */
void model_import_item(const struct config *c, const struct want *w, long long now, struct strbuf *out);

/* Tells m what the state learned MDE puts in createdBy for this app
 * (spec 9, created-by), so that mde_owned knows it. */
void model_load_owner(struct mde *m, struct store *st);
/* Reads back indicator id (MDE's value as it returned it) to learn
 * what MDE puts in createdBy for this app, and keeps it in st. */
void model_learn_owner(struct mde *m, struct store *st, const char *value, const char *id);

/* Is name among the token's roles (a JSON array of strings)? */
bool model_has_role(const json_t *roles, const char *name);

/*
 * Every device group the enabled feeds are scoped to, checked against
 * MDE's (spec 9, group-names: a name MDE does not know scopes a block to
 * nothing, or fails every item). Returns per feed whether one of its
 * groups is unknown (NULL: nothing to check, or it cannot be checked,
 * which is said); *nbad counts those feeds; *info gets the JSON for the
 * report: {"verified": bool, "unknown": {feed: [group...]}, "known": [...]}.
 */
bool *model_verify_groups(const struct config *c, struct mde *m, size_t *nbad, json_t **info);

#endif

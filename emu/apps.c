/* The applications the emulator knows: their roles by name, and adding
 * or updating one (the control plane, --config). */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

static const struct {
	unsigned bit;
	const char *name;
} roles[] = {
	{ROLE_TI_RW, "Ti.ReadWrite"},
	{ROLE_TI_RW_ALL, "Ti.ReadWrite.All"},
	{ROLE_TI_READ_ALL, "Ti.Read.All"},
	{ROLE_MACHINE_READ_ALL, "Machine.Read.All"},
	{ROLE_MACHINE_RW_ALL, "Machine.ReadWrite.All"},
	{ROLE_AQ_READ_ALL, "AdvancedQuery.Read.All"},
	{ROLE_SCORE_READ_ALL, "Score.Read.All"},
	{ROLE_DMC_READ_ALL, "DeviceManagementConfiguration.Read.All"},
	{ROLE_DMC_RW_ALL, "DeviceManagementConfiguration.ReadWrite.All"},
	{ROLE_GROUP_READ_ALL, "Group.Read.All"},
};

const char *
role_name(unsigned bit)
{
	for (size_t i = 0; i < NELEM(roles); i++)
		if (roles[i].bit == bit)
			return roles[i].name;
	return "?";
}

unsigned
role_parse(const char *name)
{
	for (size_t i = 0; i < NELEM(roles); i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].bit;
	return 0;
}

void
emu_add_app(struct emu *e, const char *tenant, const char *cid, const char *secret, const char *name,
	    unsigned roles_mask)
{
	for (size_t i = 0; i < e->napps; i++)
		if (strcmp(e->apps[i].tenant, tenant) == 0 && strcmp(e->apps[i].client_id, cid) == 0) {
			free(e->apps[i].secret);
			free(e->apps[i].name);
			e->apps[i].secret = secret ? xstrdup(secret) : NULL;
			e->apps[i].name = xstrdup(name);
			e->apps[i].roles = roles_mask;
			return;
		}
	e->apps = xrealloc(e->apps, (e->napps + 1) * sizeof(*e->apps));
	e->apps[e->napps++] = (struct app){.tenant = xstrdup(tenant),
					   .client_id = xstrdup(cid),
					   .secret = secret ? xstrdup(secret) : NULL,
					   .name = xstrdup(name),
					   .roles = roles_mask};
	struct app *a = &e->apps[e->napps - 1];
	app_object_id(a, a->oid);
}

/*
 * Every real feed snapshot in ../shared/feeds through the pipeline, with
 * the counts expected from reading the files (see their SOURCES.md):
 * entries the parser offered, distinct accepted, duplicates, rejected.
 * Exits 77 (SKIPPED) when ../shared/feeds is absent, 1 (FAILED) when it
 * is absent or unreadable under CI=true.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static const struct {
	const char *rel;
	enum feed_format format;
	const char *types;
	unsigned long entries, accepted, duplicates, rejected;
	bool parse_error;
} feeds[] = {
	{"abusech-mirrors/feodotracker_ipblocklist.csv", FEED_CSV, "", 28, 28, 0, 0, false},
	{"abusech-mirrors/sslbl_sslblacklist.excel-resaved.csv", FEED_CSV, "cert", 5565, 5565, 0, 0, false},
	{"abusech-mirrors/threatfox_ips.txt", FEED_TEXT, "", 19863, 19856, 0, 7, false},
	{"abusech-mirrors/urlhaus_urls.txt", FEED_TEXT, "", 12193, 12192, 0, 1, false},
	{"badd-boyz-hosts/hosts", FEED_HOSTS, "", 1384, 1384, 0, 0, false},
	{"blocklistproject/malware.ip", FEED_NETSET, "", 20907, 20641, 0, 266, false},
	{"blocklistproject/phishing-nl.txt", FEED_TEXT, "", 190215, 189980, 0, 235, false},
	{"c2-tracker/Cobalt_Strike_C2_IPs.txt", FEED_TEXT, "", 160, 160, 0, 0, false},
	{"c2-tracker/all.txt", FEED_TEXT, "", 2347, 2347, 0, 0, false},
	{"doh-servers-ips/DoH_servers_IPs.txt", FEED_TEXT, "", 62790, 62752, 0, 38, false},
	{"dshield/block.txt", FEED_NETSET, "", 20, 0, 0, 20, false},
	{"eset-malware-ioc/moustachedbouncer.misp-event.json", FEED_MISP, "", 95, 85, 0, 255, false},
	{"eset-malware-ioc/nukesped_lazarus.samples.md5", FEED_TEXT, "", 555, 555, 0, 0, false},
	{"eset-malware-ioc/nukesped_lazarus.samples.sha1", FEED_TEXT, "", 555, 555, 0, 0, false},
	{"eset-malware-ioc/nukesped_lazarus.samples.sha256", FEED_TEXT, "", 555, 555, 0, 0, false},
	{"eset-malware-ioc/oceanlotus-wateringhole-2018.misp-event.json", FEED_MISP, "", 0, 0, 0, 75, false},
	{"eset-malware-ioc/pypi_backdoor.misp-event.MALFORMED.json", FEED_MISP, "", 0, 0, 0, 0, true},
	{"eset-malware-ioc/spalax.README.adoc", FEED_REPORT, "", 379, 357, 0, 0, false},
	{"eset-malware-ioc/sshdoor-endor.misp-event.json", FEED_MISP, "", 0, 0, 0, 31, false},
	{"eset-malware-ioc/turla.README.adoc", FEED_REPORT, "", 1790, 194, 4, 46, false},
	{"firehol-blocklist-ipsets/blocklist_de.ipset", FEED_TEXT, "", 22474, 22474, 0, 0, false},
	{"firehol-blocklist-ipsets/cybercrime.ipset", FEED_TEXT, "", 482, 482, 0, 0, false},
	{"firehol-blocklist-ipsets/dshield.netset", FEED_NETSET, "", 19, 0, 0, 19, false},
	{"firehol-blocklist-ipsets/et_compromised.ipset", FEED_TEXT, "", 746, 746, 0, 0, false},
	{"firehol-blocklist-ipsets/feodo.ipset", FEED_TEXT, "", 0, 0, 0, 0, false},
	{"firehol-blocklist-ipsets/firehol_level1.netset", FEED_NETSET, "", 2511, 0, 0, 2511, false},
	{"firehol-blocklist-ipsets/firehol_level4.netset", FEED_TEXT, "", 190953, 186489, 0, 4464, false},
	{"firehol-blocklist-ipsets/spamhaus_drop.netset", FEED_NETSET, "", 986, 0, 0, 986, false},
	{"firehol-blocklist-ipsets/spamhaus_edrop.netset", FEED_NETSET, "", 55, 0, 0, 55, false},
	{"neo23x0-signature-base/c2-iocs.txt", FEED_TEXT, "", 1844, 1771, 71, 2, false},
	{"neo23x0-signature-base/hash-iocs.txt", FEED_TEXT, "", 3224, 3053, 171, 0, false},
	{"oasis-stix2-examples/apt1.json", FEED_STIX, "", 10, 6, 0, 6, false},
	{"oasis-stix2-examples/indicator-for-malicious-url.json", FEED_STIX, "", 1, 1, 0, 0, false},
	{"oasis-stix2-examples/indicators-for-C2-with-COA.json", FEED_STIX, "", 2, 1, 0, 1, false},
	{"oasis-stix2-examples/poisonivy.json", FEED_STIX, "", 65, 42, 22, 3, false},
	{"openphish/feed.txt", FEED_TEXT, "", 500, 500, 0, 0, false},
	{"pan-unit42-iocs/2024-02-27-Akira-Ransomware.stix20.json", FEED_STIX, "", 18, 18, 0, 0, false},
	{"pan-unit42-iocs/advanced_url_filtering_iocs.defanged.txt", FEED_TEXT, "", 51, 15, 0, 36, false},
	{"pan-unit42-iocs/keybase_panels.defanged.txt", FEED_CSV, "", 5242, 5220, 19, 3, false},
	{"pan-unit42-iocs/macro_loader_iocs.defanged.csv", FEED_CSV, "", 1317, 1174, 122, 21, false},
	{"pymisp-testdata/57c4445b-c548-4654-af0b-4be3950d210f.json", FEED_MISP, "", 3, 3, 0, 6, false},
	{"pymisp-testdata/existing_event.circl-osint.json", FEED_MISP, "", 68, 66, 2, 54, false},
	{"romainmarcoux-malicious-ip/full-all.txt", FEED_TEXT, "", 552293, 552293, 0, 0, false},
	{"spamhaus-drop/drop.txt", FEED_NETSET, "", 1699, 0, 0, 1699, false},
	{"stamparm-ipsum/ipsum.txt", FEED_CSV, "", 120430, 120430, 0, 0, false},
	{"stamparm-ipsum/levels_3.txt", FEED_TEXT, "", 14217, 14217, 0, 0, false},
	{"stamparm-maltrail/apt_kimsuky.txt", FEED_TEXT, "", 26493, 25692, 406, 395, false},
	{"stamparm-maltrail/cobaltstrike.txt", FEED_TEXT, "", 14701, 11116, 3381, 204, false},
	{"stamparm-maltrail/emotet.txt", FEED_TEXT, "", 15034, 3670, 1683, 9681, false},
	{"urlhaus-filter/urlhaus-filter-domains.txt", FEED_TEXT, "", 25768, 25761, 0, 7, false},
	{"urlhaus-filter/urlhaus-filter-hosts.txt", FEED_HOSTS, "", 2689, 2682, 0, 7, false},
	{"urlhaus-filter/urlhaus-filter-splunk-online.csv", FEED_CSV, "", 6363, 2908, 1625, 1830, false},
	{"volexity-threat-intel/disgomoji-2024-06.iocs.csv", FEED_CSV, "", 243, 243, 0, 0, false},
	{"volexity-threat-intel/evilbamboo-2023-09.iocs.csv", FEED_CSV, "", 243, 243, 0, 0, false},
	{"volexity-threat-intel/xegroup-2021-12.indicators.csv", FEED_CSV, "", 248, 248, 0, 0, false},
};

static void
test_real_feeds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(feeds) / sizeof(feeds[0]); i++) {
		size_t len;
		char *buf = shared_feed(feeds[i].rel, &len);
		struct result r;
		unsigned types = feeds[i].types[0] ? ioc_types_parse(feeds[i].types, NULL) : 0;
		run_buf(&r, FEED_AUTO, types, buf, len);
		if (r.st.format != feeds[i].format || r.st.entries != feeds[i].entries ||
		    r.st.accepted_total != feeds[i].accepted || r.st.duplicates != feeds[i].duplicates ||
		    r.st.rejected_total != feeds[i].rejected || (r.rc != ERR_OK) != feeds[i].parse_error)
			fail_msg(
				"%s: format %s entries %lu accepted %lu duplicates %lu rejected %lu rc %d; "
				"want format %s entries %lu accepted %lu duplicates %lu rejected %lu",
				feeds[i].rel, feed_format_name(r.st.format), r.st.entries, r.st.accepted_total,
				r.st.duplicates, r.st.rejected_total, r.rc, feed_format_name(feeds[i].format),
				feeds[i].entries, feeds[i].accepted, feeds[i].duplicates, feeds[i].rejected);
		result_free(&r);
		free(buf);
	}
}

/* Specific facts read off the files. */
static void
test_real_details(void **state)
{
	(void)state;
	size_t len;
	struct result r;
	char *buf = shared_feed("pan-unit42-iocs/advanced_url_filtering_iocs.defanged.txt", &len);
	run_buf(&r, FEED_TEXT, IOC_BIT(IOC_URL) | IOC_BIT(IOC_DOMAIN) | IOC_HASHES, buf, len);
	/* declared a URL feed, the scheme-less defanged URLs are taken */
	assert_true(accepted_has(&r, "Url", "http://aliceinformaticasrl.com/user/pages/20991962233.pdf"));
	assert_true(accepted_has(&r, "DomainName", "paypal-account-mal234.com"));
	assert_int_equal(r.st.rejected[REJ_NO_SCHEME], 0);
	result_free(&r);
	free(buf);

	buf = shared_feed("abusech-mirrors/sslbl_sslblacklist.excel-resaved.csv", &len);
	run_buf(&r, FEED_AUTO, 0, buf, len);
	/* undeclared, 40 hex digits are SHA-1 file hashes, never thumbprints */
	assert_int_equal(r.st.accepted[IOC_SHA1], 5565);
	assert_int_equal(r.st.accepted[IOC_CERT], 0);
	result_free(&r);
	free(buf);

	buf = shared_feed("oasis-stix2-examples/poisonivy.json", &len);
	run_buf(&r, FEED_AUTO, 0, buf, len);
	assert_true(accepted_has(&r, "DomainName", "www.webserver.dynssl.com"));
	assert_non_null(strstr(r.rejected.buf, "invalid-domain")); /* 'domain autuo.xicp.net' */
	result_free(&r);
	free(buf);

	buf = shared_feed("oasis-stix2-examples/indicators-for-C2-with-COA.json", &len);
	run_buf(&r, FEED_AUTO, 0, buf, len);
	assert_int_equal(r.st.rejected[REJ_SPECIAL], 1); /* 10.0.0.0 */
	result_free(&r);
	free(buf);

	buf = shared_feed("eset-malware-ioc/oceanlotus-wateringhole-2018.misp-event.json", &len);
	run_buf(&r, FEED_MISP, 0, buf, len);
	assert_int_equal(r.st.rejected[REJ_NOT_TO_IDS], 73); /* honoured by default */
	result_free(&r);
	free(buf);
}

int
main(void)
{
	if (!shared_available() && shared_required()) {
		fprintf(stderr, "FAILED: %s is absent or unreadable, and CI=true: the real-feed tests must run\n",
			SHARED_FEEDS);
		return 1;
	}
	if (!shared_available()) {
		fprintf(stderr, "SKIPPED: %s is absent: the real-feed tests did not run\n", SHARED_FEEDS);
		return 77;
	}
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_real_feeds), cmocka_unit_test(test_real_details)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * What may never be sent, as data: the special-purpose address ranges,
 * the special-use domain names, and the built-in critical allowlist
 * (names, addresses, hashes). policy.c reads these tables once.
 */
#include "policy_int.h"

#include "util.h"

/* IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
 * its updates), plus multicast and the reserved class E. Written as text
 * so that they read like the registries; parsed once at start. */
const struct policy_special_range policy_special[] = {
	{"0.0.0.0/8", "\"this network\" (RFC 791)"},
	{"10.0.0.0/8", "private-use (RFC 1918)"},
	{"100.64.0.0/10", "shared address space / CGNAT (RFC 6598)"},
	{"127.0.0.0/8", "loopback (RFC 1122)"},
	{"169.254.0.0/16", "link-local (RFC 3927)"},
	{"172.16.0.0/12", "private-use (RFC 1918)"},
	{"192.0.0.0/24", "IETF protocol assignments (RFC 6890)"},
	{"192.0.2.0/24", "documentation TEST-NET-1 (RFC 5737)"},
	{"192.31.196.0/24", "AS112-v4 (RFC 7535)"},
	{"192.52.193.0/24", "AMT (RFC 7450)"},
	{"192.88.99.0/24", "deprecated 6to4 relay anycast (RFC 7526)"},
	{"192.168.0.0/16", "private-use (RFC 1918)"},
	{"192.175.48.0/24", "direct delegation AS112 service (RFC 7534)"},
	{"198.18.0.0/15", "benchmarking (RFC 2544)"},
	{"198.51.100.0/24", "documentation TEST-NET-2 (RFC 5737)"},
	{"203.0.113.0/24", "documentation TEST-NET-3 (RFC 5737)"},
	{"224.0.0.0/4", "multicast (RFC 5771)"},
	{"240.0.0.0/4", "reserved (RFC 1112) and limited broadcast (RFC 919)"},
	{"::/128", "unspecified address (RFC 4291)"},
	{"::1/128", "loopback (RFC 4291)"},
	{"::ffff:0:0/96", "IPv4-mapped address (RFC 4291)"},
	{"64:ff9b::/96", "IPv4-IPv6 translation (RFC 6052)"},
	{"64:ff9b:1::/48", "local-use IPv4-IPv6 translation (RFC 8215)"},
	{"100::/64", "discard-only (RFC 6666)"},
	{"2001::/23", "IETF protocol assignments, incl. Teredo (RFC 2928)"},
	{"2001:db8::/32", "documentation (RFC 3849)"},
	{"2002::/16", "6to4 (RFC 3056)"},
	{"2620:4f:8000::/48", "direct delegation AS112 service (RFC 7534)"},
	{"3fff::/20", "documentation (RFC 9637)"},
	{"5f00::/16", "segment routing SIDs (RFC 9602)"},
	{"fc00::/7", "unique local (RFC 4193)"},
	{"fe80::/10", "link-local (RFC 4291)"},
	{"ff00::/8", "multicast (RFC 4291)"},
};

/* Special-use domain names (RFC 6761, 6762, 7686, 8375, 9476; ICANN's
 * .internal) and the RFC 2606 example domains: never on the Internet. */
#define SPECIAL(labels, tld) \
	{ \
		labels tld, sizeof(labels tld) - 1, sizeof(tld) - 1 \
	}
const struct policy_special_domain policy_special_domains[] = {
	SPECIAL("", "localhost"), SPECIAL("", "local"),       SPECIAL("", "test"),        SPECIAL("", "invalid"),
	SPECIAL("", "example"),   SPECIAL("", "onion"),       SPECIAL("", "alt"),         SPECIAL("", "internal"),
	SPECIAL("home.", "arpa"), SPECIAL("example.", "com"), SPECIAL("example.", "net"), SPECIAL("example.", "org"),
	SPECIAL("", "arpa"),
};
#undef SPECIAL

/* Built-in critical allowlist. Domains are registrable domains; strict
 * ones cover every URL on them (see policy.h). */
const struct policy_builtin_domain policy_builtin_domains[] = {
	/* Microsoft identity, updates, Defender's own service. */
	{"microsoft.com", true},
	{"microsoftonline.com", true},
	{"microsoftonline-p.com", true},
	{"msftauth.net", true},
	{"msauth.net", true},
	{"msauthimages.net", true},
	{"windows.com", true},
	{"windows.net", true},
	{"windowsupdate.com", true},
	{"msftconnecttest.com", true},
	{"msocsp.com", true},
	{"msedge.net", true},
	{"azure.com", true},
	{"azure.net", true},
	{"azureedge.net", true},
	{"microsoft.us", true},
	{"microsoftonline.us", true},
	{"digicert.com", true},
	{"office.com", false},
	{"office.net", false},
	{"office365.com", false},
	{"outlook.com", false},
	{"live.com", false},
	{"live.net", false},
	{"sharepoint.com", false},
	{"onmicrosoft.com", false},
	{"microsoft365.com", false},
	{"bing.com", false},
	{"skype.com", false},
	{"lync.com", false},
	{"aka.ms", false},
	{"visualstudio.com", false},
	{"msn.com", false},
	{"xboxlive.com", false},
	/* Public DNS resolvers. */
	{"dns.google", true},
	{"cloudflare-dns.com", true},
	{"one.one.one.one", true},
	{"quad9.net", true},
	{"opendns.com", true},
	/* The largest platforms. */
	{"google.com", false},
	{"googleapis.com", true},
	{"gstatic.com", true},
	{"youtube.com", false},
	{"facebook.com", false},
	{"fbcdn.net", true},
	{"instagram.com", false},
	{"whatsapp.com", false},
	{"whatsapp.net", true},
	{"apple.com", false},
	{"icloud.com", false},
	{"amazon.com", false},
	{"amazonaws.com", false},
	{"cloudfront.net", false},
	{"akamai.net", true},
	{"akamaiedge.net", true},
	{"akamaihd.net", false},
	{"cloudflare.com", false},
	{"github.com", false},
	{"githubusercontent.com", false},
	{"linkedin.com", false},
	{"wikipedia.org", false},
	{"twitter.com", false},
	{"x.com", false},
	{"zoom.us", false},
	{"salesforce.com", false},
	{"okta.com", true},
	{"yahoo.com", false},
	{"dropbox.com", false},
	{"adobe.com", false},
	{"mozilla.org", false},
	{"mozilla.net", true},
	{"debian.org", true},
	{"ubuntu.com", true},
	{"letsencrypt.org", true},
	{"ocsp.sectigo.com", true},
	/* Windows' connectivity checks (NCSI): docs.microsoft.com/troubleshoot/windows-client/
	 * networking/internet-explorer-edge-open-connect-corporate-public-network. */
	{"msftncsi.com", true},
	/* Entra ID Seamless SSO and Application Proxy: entra-docs, identity/hybrid/connect/
	 * how-to-connect-sso-quick-start.md and identity/app-proxy/application-proxy-configure-
	 * connectors-with-proxy-servers.md. */
	{"microsoftazuread-sso.com", true},
	{"msappproxy.net", true},
	/* Certificate status (OCSP, CRL) of the largest public CAs: without it TLS fails closed
	 * in many clients. Let's Encrypt: letsencrypt.org/docs/lencr.org; Google Trust
	 * Services: pki.goog/faq. */
	{"lencr.org", true},
	{"pki.goog", true},
	/* Time: a device with a wrong clock fails TLS and Kerberos. The NTP pool
	 * (ntppool.org/en/use.html) and Windows' default time server (w32tm). */
	{"pool.ntp.org", true},
	{"time.windows.com", true},
};

/* Public DNS resolvers' addresses: blocking one cuts name resolution. */
const char *const policy_builtin_ips[] = {
	"8.8.8.8",
	"8.8.4.4",
	"1.1.1.1",
	"1.0.0.1",
	"1.1.1.2",
	"1.0.0.2",
	"1.1.1.3",
	"1.0.0.3",
	"9.9.9.9",
	"149.112.112.112",
	"9.9.9.10",
	"149.112.112.10",
	"9.9.9.11",
	"149.112.112.11",
	"208.67.222.222",
	"208.67.220.220",
	"208.67.222.123",
	"208.67.220.123",
	"4.2.2.1",
	"4.2.2.2",
	"4.2.2.3",
	"4.2.2.4",
	"4.2.2.5",
	"4.2.2.6",
	"64.6.64.6",
	"64.6.65.6",
	"94.140.14.14",
	"94.140.15.15",
	"76.76.2.0",
	"76.76.10.0",
	"185.228.168.9",
	"185.228.169.9",
	"8.26.56.26",
	"8.20.247.20",
	"2001:4860:4860::8888",
	"2001:4860:4860::8844",
	"2606:4700:4700::1111",
	"2606:4700:4700::1001",
	"2620:fe::fe",
	"2620:fe::9",
	"2620:119:35::35",
	"2620:119:53::53",
	"2a10:50c0::ad1:ff",
	"2a10:50c0::ad2:ff",
};

/* Hashes of the empty file: blocking them matches every empty download. */
const char *const policy_builtin_hashes[] = {
	"d41d8cd98f00b204e9800998ecf8427e",
	"da39a3ee5e6b4b0d3255bfef95601890afd80709",
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
};

const size_t policy_nspecial = NELEM(policy_special);
const size_t policy_nspecial_domains = NELEM(policy_special_domains);
const size_t policy_nbuiltin_domains = NELEM(policy_builtin_domains);
const size_t policy_nbuiltin_ips = NELEM(policy_builtin_ips);
const size_t policy_nbuiltin_hashes = NELEM(policy_builtin_hashes);

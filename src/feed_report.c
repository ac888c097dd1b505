/*
 * Indicators inside free text: threat-report prose, Markdown, AsciiDoc
 * tables and lists, defanged or not. Words are cut at white space and
 * markup (| ` " < > *), stripped of surrounding punctuation, and offered
 * as "prose" entries: a word that is no indicator is dropped without a
 * diagnostic, but one that is an indicator and may not be sent is
 * reported like any other. Markup links (Markdown [text](url),
 * AsciiDoc url[text], link:url) are the report's references, not its
 * indicators, and are skipped.
 */
#include <string.h>

#include "feed.h"
#include "util.h"

static bool
cut(char c)
{
	return is_space((unsigned char)c) || c == '|' || c == '`' || c == '"' || c == '<' || c == '>' || c == '*';
}

static bool
strip_lead(char c)
{
	return c == '(' || c == '\'' || c == ',' || c == ';' || c == '=' || c == '-' || c == '_';
}

static bool
strip_trail(char c)
{
	return c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')' || c == '\'' ||
		c == '_';
}

/* Is there a '[' that does not open a defang marker ([.], [:], [dot]...)? */
static bool
has_link_bracket(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '[')
			continue;
		size_t r = n - i;
		if ((r >= 3 && (s[i + 1] == '.' || s[i + 1] == ':' || s[i + 1] == '/' || s[i + 1] == '@') &&
		     s[i + 2] == ']') ||
		    (r >= 5 && (mem_ieq(s + i, "[dot]", 5) || mem_ieq(s + i, "[://]", 5))) ||
		    (r >= 4 && mem_ieq(s + i, "[at]", 4)))
			continue;
		return true;
	}
	return false;
}

static void
word(const struct feed_sink *k, unsigned long line, const char *s, size_t n)
{
	while (n > 0 && strip_lead(*s)) {
		s++;
		n--;
	}
	/* A trailing "]" belongs to a defang marker or to a link. */
	while (n > 0 && (strip_trail(s[n - 1]) || (s[n - 1] == ']' && n >= 3 && s[n - 3] != '[')))
		n--;
	if (n < 4)
		return;
	if (has_iprefix(s, n, "link:") || memmem(s, n, "](", 2) != NULL)
		return;
	if (memmem(s, n, "://", 3) && has_link_bracket(s, n))
		return;
	if (s[0] == '[' && memchr(s, ']', n) && !memchr(s, ':', n))
		return; /* [text] */
	struct feed_entry e = {.value = s, .len = n, .line = line, .prose = true};
	k->entry(k->ctx, &e);
}

enum err
feed_report_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
		  size_t whysz)
{
	struct feed_lines l;
	const char *s;
	size_t n;

	(void)o;
	(void)why;
	(void)whysz;
	feed_lines_init(&l, buf, len);
	while (feed_lines_next(&l, &s, &n)) {
		if (n > LIMIT_LINE_BYTES || memchr(s, '\0', n)) {
			feed_line_bad(k, l.no, s, n);
			continue;
		}
		size_t i = 0;
		while (i < n) {
			while (i < n && cut(s[i]))
				i++;
			size_t st = i;
			while (i < n && !cut(s[i]))
				i++;
			if (i > st)
				word(k, l.no, s + st, i - st);
		}
	}
	return ERR_OK;
}

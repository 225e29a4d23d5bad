#!/usr/bin/env python3
"""The fixture feeds and the client checks of bench/clients.sh (#18).

    clients_check.py fixtures FILE_DIR HTTP_DIR   writes the fixture feeds
    clients_check.py check FEEDVALIDATOR BASE      checks BASE/feed.* (and
                                                   the files fetched into .)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

# Two items share this date; the rest are spread over the morning.
SAME = "Sun, 01 Nov 2026 08:00:00 +0000"


def fixtures(files, www):
    # An agency's RSS (file:): the wire story, authorless and blank items,
    # HTML in a title, CDATA, tracking parameters, enclosures.
    wire = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Wire Agency</title><link>https://wire.example/</link><description>The wire</description>
<item><guid isPermaLink="false">w-1</guid><title>Harbour strike ends after 12 days of talks</title>
<link>https://wire.example/world/harbour-strike?utm_source=rss&amp;utm_medium=feed&amp;id=7</link>
<pubDate>{SAME}</pubDate>
<description><![CDATA[<p>Dock workers in Rotterdam ended a twelve-day strike on Sunday after the union and port operators agreed on a new wage deal, officials said.</p>]]></description></item>
<item><guid isPermaLink="false">w-2</guid><title>Markets close &lt;b&gt;higher&lt;/b&gt; &amp; calm</title>
<link>https://wire.example/markets/close?fbclid=IwAR0abc&amp;page=2</link>
<pubDate>{SAME}</pubDate>
<description><![CDATA[<p>Stocks in Zürich, 東京 and São Paulo closed higher.</p>]]></description></item>
<item><guid isPermaLink="false">w-3</guid><title>Photo of the day</title>
<link>https://wire.example/photo/3?gclid=xyz</link><pubDate>Sun, 01 Nov 2026 07:40:00 +0000</pubDate>
<description></description>
<enclosure url="https://img.wire.example/photo-3.jpg" length="0" type=""/></item>
<item><guid isPermaLink="false">w-4</guid><link>https://wire.example/briefs/4?mc_cid=a1&amp;mc_eid=b2&amp;WT.mc_id=x&amp;wt_mc=y</link>
<pubDate>Sun, 01 Nov 2026 07:30:00 +0000</pubDate></item>
<item><guid isPermaLink="false">w-5</guid>
<pubDate>Sun, 01 Nov 2026 07:20:00 +0000</pubDate>
<description>Ferry services across the Baltic resume on Monday morning after the storm, the operator said in a short statement.</description></item>
<item><guid isPermaLink="false">w-6</guid><title>Podcast: the week in review</title>
<link>https://wire.example/podcast/6</link><pubDate>Sun, 01 Nov 2026 07:10:00 +0000</pubDate>
<description>The week's stories.</description>
<enclosure url="https://cdn.wire.example/pod/6.mp3" length="123456" type="audio/mpeg"/></item>
<item><guid isPermaLink="false">w-7</guid><title>Relative link</title><link>/local/7</link>
<pubDate>Sun, 01 Nov 2026 07:05:00 +0000</pubDate><description>A link relative to the feed.</description></item>
</channel></rss>"""
    # A regional Atom feed (file:), with no author anywhere.
    gazette = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Zürcher Gazette</title><id>urn:gazette</id>
<updated>2026-11-01T08:00:00Z</updated>
<entry><id>urn:gazette:1</id><title type="html">Hafenstreik &lt;em&gt;beendet&lt;/em&gt;</title>
<link href="https://gazette.example/a/1?utm_campaign=x"/><updated>2026-11-01T08:00:00Z</updated>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Die Hafenarbeiter in Rotterdam beenden den Streik.</p></div></content></entry>
<entry><id>urn:gazette:2</id><title></title><link href="https://gazette.example/a/2"/><updated>2026-11-01T08:00:00Z</updated>
<summary></summary></entry>
<entry><id>urn:gazette:3</id><title>   </title><updated>2026-11-01T06:00:00Z</updated><content> </content></entry>
</feed>"""
    # A JSON Feed (file:).
    notes = {
        "version": "https://jsonfeed.org/version/1.1", "title": "Notes",
        "items": [
            {"id": "n1", "content_text": "Dock workers in Rotterdam ended a twelve-day strike on Sunday after the union and port operators agreed on a new wage deal, officials said.",
             "title": "Harbour strike ends after 12 days of talks", "url": "https://notes.example/1", "date_published": "2026-11-01T08:05:00Z"},
            {"id": "n2", "url": "https://notes.example/2?utm_source=x", "date_published": "2026-11-01T06:30:00Z",
             "content_html": "<p>Only a link and a line.</p>",
             "attachments": [{"url": "https://notes.example/img/2.png", "mime_type": "image/png"}]},
        ],
    }
    # A newspaper's RSS (HTTP): dc:creator, e-mail authors, no dates on one.
    herald = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>The Herald</title>
<link>https://herald.example/</link><description>News</description>
<item><guid>https://herald.example/1</guid><title>Harbour strike ends after 12 days of talks</title>
<link>https://herald.example/1?utm_source=rss</link><dc:creator>Ana Díaz</dc:creator><pubDate>Sun, 01 Nov 2026 08:10:00 +0000</pubDate>
<description>&lt;p&gt;Dock workers in Rotterdam ended a twelve-day strike on Sunday after the union and port operators agreed on a new wage deal, officials said.&lt;/p&gt;</description></item>
<item><guid>https://herald.example/2</guid><title>Council budget</title><link>https://herald.example/2</link>
<author>desk@herald.example (Herald Desk)</author><pubDate>{SAME}</pubDate><description>Budget passed.</description>
<enclosure url="https://herald.example/img/2.webp" length="" type=""/></item>
<item><guid>https://herald.example/3</guid><title>Undated</title><link>https://herald.example/3</link><description>No date.</description></item>
</channel></rss>"""
    daily = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Daily Post</title><id>tag:daily.example,2026:feed</id>
<updated>2026-11-01T08:00:00Z</updated><author><name>Daily Post</name></author>
<entry><id>tag:daily.example,2026:1</id><title>Storm warning</title><link href="https://daily.example/1?utm_medium=a&amp;gclid=b"/>
<updated>2026-11-01T08:00:00Z</updated><summary type="html">&lt;p&gt;A storm nears.&lt;/p&gt;</summary></entry>
<entry><id>tag:daily.example,2026:2</id><title>Bridge reopens</title><link href="https://daily.example/2"/>
<link rel="enclosure" href="https://daily.example/2.gif"/>
<updated>2026-11-01T08:00:00Z</updated><content type="html"></content></entry>
</feed>"""
    for path, text in [(os.path.join(files, "wire.xml"), wire),
                       (os.path.join(files, "gazette.atom"), gazette),
                       (os.path.join(files, "notes.json"), json.dumps(notes, ensure_ascii=False)),
                       (os.path.join(www, "herald.xml"), herald),
                       (os.path.join(www, "daily.atom"), daily)]:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def w3c(fv, url):
    """The W3C validator's events for URL, every occurrence, as the online
    validator shows them (errors and warnings)."""
    sys.path.insert(0, os.path.join(fv, "src"))
    import urllib.request  # the validator uses it without importing it
    import feedvalidator
    from feedvalidator import compatibility
    from feedvalidator.formatter.text_plain import Formatter
    from feedvalidator.logging import Error, Warning
    events = feedvalidator.validateURL(url, firstOccurrenceOnly=0)["loggedEvents"]
    events = compatibility.AA(events)
    errors = [e for e in events if isinstance(e, Error)]
    warnings = [e for e in events if isinstance(e, Warning)]
    for line in Formatter(events):
        print("   ", line)
    return len(errors), len(warnings)


def feedparser_check(url):
    import feedparser
    d = feedparser.parse(url)
    problems = []
    if d.bozo:
        problems.append(f"bozo: {d.bozo_exception!r}")
    if not d.entries:
        problems.append("no entries")
    for n, e in enumerate(d.entries):
        content = (e.get("content") or [{}])[0].get("value") or e.get("summary")
        for key, value in [("id", e.get("id")), ("link", e.get("link")), ("title", e.get("title")),
                           ("date", e.get("published_parsed") or e.get("updated_parsed")),
                           ("content", content)]:
            if not value or (isinstance(value, str) and not value.strip()):
                problems.append(f"entry {n} ({e.get('id')}): no {key}")
        link = e.get("link") or ""
        if not link.startswith(("http://", "https://")):
            problems.append(f"entry {n}: link {link!r}")
    for p in problems:
        print("   ", p)
    return d.version, len(d.entries), len(problems)


def json_feed_check(path):
    """JSON Feed 1.1's rules (https://jsonfeed.org/version/1.1)."""
    doc = json.load(open(path, encoding="utf-8"))
    problems = []
    def need(cond, what):
        if not cond:
            problems.append(what)
    need(doc.get("version") == "https://jsonfeed.org/version/1.1", "version")
    need(isinstance(doc.get("title"), str) and doc["title"].strip(), "feed title")
    for key in ["home_page_url", "feed_url", "next_url", "icon", "favicon"]:
        if key in doc:
            need(isinstance(doc[key], str) and doc[key].startswith(("http://", "https://")), key)
    need("author" not in doc, "author is deprecated in 1.1 (authors)")
    ids = set()
    for n, it in enumerate(doc.get("items", [])):
        need(isinstance(it.get("id"), str) and it["id"].strip(), f"item {n}: id")
        need(it.get("id") not in ids, f"item {n}: repeated id")
        ids.add(it.get("id"))
        need(any(isinstance(it.get(k), str) and it[k].strip() for k in ["content_html", "content_text"]),
             f"item {n}: content_html or content_text")
        for key in ["url", "external_url", "image", "banner_image"]:
            if key in it:
                need(isinstance(it[key], str) and it[key].startswith(("http://", "https://")), f"item {n}: {key} {it[key]!r}")
        need("author" not in it, f"item {n}: author is deprecated (authors)")
        for a in it.get("authors", []):
            need(any(a.get(k) for k in ["name", "url", "avatar"]), f"item {n}: empty author")
        for a in it.get("attachments", []):
            need(isinstance(a.get("url"), str) and a["url"].startswith(("http://", "https://")), f"item {n}: attachment url")
            need(isinstance(a.get("mime_type"), str) and "/" in a["mime_type"], f"item {n}: attachment mime_type")
            need(a.get("mime_type") != "application/octet-stream" or not a["url"].lower().endswith((".jpg", ".png", ".gif", ".webp", ".mp3")),
                 f"item {n}: attachment {a['url']} typed application/octet-stream")
            if "size_in_bytes" in a:
                need(isinstance(a["size_in_bytes"], int) and a["size_in_bytes"] > 0, f"item {n}: size_in_bytes {a['size_in_bytes']}")
    for p in problems:
        print("   ", p)
    return len(problems)


def reader_check(base):
    try:
        import reader
    except ImportError:
        print("    (reader not installed)")
        return 0
    problems = 0
    with tempfile.TemporaryDirectory() as tmp:
        r = reader.make_reader(os.path.join(tmp, "r.sqlite"))
        for fmt in ["atom", "rss", "json"]:
            url = f"{base}/feed.{fmt}"
            r.add_feed(url)
            r.update_feed(url)
            feed = r.get_feed(url)
            entries = list(r.get_entries(feed=url))
            bad = [e.id for e in entries if not (e.title and e.link and (e.published or e.updated)
                                                  and (e.content or e.summary))]
            print(f"    reader {reader.__version__} {fmt}: {len(entries)} entries, "
                  f"update error: {feed.last_exception}, incomplete: {bad}")
            problems += len(bad) + (feed.last_exception is not None) + (not entries)
        r.close()
    return problems


def newsboat_check(base):
    if not shutil.which("newsboat"):
        print("    (newsboat not installed)")
        return 0
    import sqlite3
    problems = 0
    # One cache per format: newsboat keeps one item per guid across feeds,
    # and the three documents share their ids.
    for fmt in ["atom", "rss", "json"]:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"{base}/feed.{fmt}"
            urls, conf, cache, log = (os.path.join(tmp, n) for n in ["urls", "conf", "cache.db", "log"])
            with open(urls, "w") as f:
                f.write(url + "\n")
            open(conf, "w").close()
            subprocess.run(["newsboat", "-u", urls, "-c", cache, "-C", conf, "-l", "3", "-d", log,
                            "-x", "reload"], capture_output=True, text=True, check=True)
            n, blank = sqlite3.connect(cache).execute(
                "SELECT count(*), sum(title = '' OR url = '' OR content = '') FROM rss_item").fetchone()
            errors = [l.strip() for l in open(log, encoding="utf-8", errors="replace") if "ERROR" in l]
            print(f"    newsboat {fmt}: {n} items, {blank or 0} with a blank title, link or content"
                  + (f"; {errors[0]}" if errors else ""))
            # newsboat (2.21) reads no JSON Feed: that one is only reported.
            if fmt != "json":
                problems += (blank or 0) + (not n) + len(errors)
    return problems


def check(fv, base):
    failed = 0
    for doc in ["feed.atom", "feed.rss"]:
        errors, warnings = w3c(fv, f"{base}/{doc}")
        print(f"== W3C validator /{doc}: {errors} errors, {warnings} warnings")
        failed += errors + warnings
    # feedparser 6.0.14 reads no JSON Feed (it parses it as XML):
    # /feed.json goes through the JSON Feed 1.1 check and reader instead.
    for doc in ["feed.atom", "feed.rss"]:
        version, entries, problems = feedparser_check(f"{base}/{doc}")
        print(f"== feedparser /{doc}: {version}, {entries} entries, {problems} problems")
        failed += problems
    problems = json_feed_check("feed.json")
    print(f"== JSON Feed 1.1 /feed.json: {problems} problems")
    failed += problems
    with open("sources.opml", encoding="utf-8") as f:
        opml = f.read()
    leaks = [line for line in opml.splitlines() if "file:" in line]
    for line in leaks:
        print("   ", line)
    import xml.dom.minidom
    xml.dom.minidom.parseString(opml.encode())
    print(f"== /sources.opml: well-formed, {len(leaks)} local paths")
    failed += len(leaks)
    for doc in ["feed.atom", "feed.rss", "feed.json"]:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        n = text.count("file:/")
        tracking = sum(text.count(p) for p in ["utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "wt_mc"])
        octet = text.count("application/octet-stream")
        untitled = text.count("(untitled)")
        print(f"== /{doc}: {n} local paths, {tracking} tracking parameters, {octet} octet-stream types, {untitled} '(untitled)'")
        failed += n + tracking + octet + untitled
    problems = reader_check(base)
    print(f"== reader: {problems} problems")
    failed += problems
    problems = newsboat_check(base)
    print(f"== newsboat: {problems} problems")
    failed += problems
    print("OK: no errors or warnings" if failed == 0 else f"FAILED: {failed} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1] == "fixtures":
        fixtures(sys.argv[2], sys.argv[3])
    else:
        sys.exit(check(sys.argv[2], sys.argv[3]))

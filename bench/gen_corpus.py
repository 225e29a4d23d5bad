#!/usr/bin/env python3
"""Deterministic feed corpus for wiredesk's benchmarks.

Writes N sources x M items of invented news text (several paragraphs of HTML,
non-ASCII names, entities) as RSS 2.0, Atom, RSS 1.0 and JSON Feed files, with
a known share of syndicated copies: some stories run on several sources, each
republication in its own wrapper. `--round 2` changes a few sources (new
items at the top), as the next poll round of a live corpus would.

    python3 bench/gen_corpus.py OUT_DIR [--sources 500] [--items 40] [--round 1] [--only-from S]

Prints one line per file to OUT_DIR/urls.txt (relative paths) and a summary.
`--only-from S` writes only the files of sources S and after: with
`--sources N+K --only-from N` they are K new sources beside an N-source
corpus, whose copies come from the same stories (the story pool of N+K
sources begins with the whole pool of N), as `bench/scale.sh` needs to time
new items against a filled store.
"""
import argparse
import json
import os
import random
from xml.sax.saxutils import escape

WORDS = (
    "government minister said on tuesday the talks would continue after a "
    "week of negotiations over trade tariffs and border controls while "
    "officials from both sides met in the capital to discuss the proposal "
    "which critics called a step backwards for regional cooperation and "
    "investors watched the currency markets closely as prices rose sharply "
    "in early trading before falling back later in the session analysts "
    "expect the central bank to hold interest rates steady next month"
).split()
NAMES = ["Zoë Müller", "José Núñez", "Søren Ødegård", "Łukasz Wróbel", "Ana Lúcia",
         "Björn Åström", "Çağla Yıldız", "Dmitri Sokolov", "Mei Chen", "Amara Okafor"]
CITIES = ["GENEVA", "SÃO PAULO", "KRAKÓW", "ZÜRICH", "MOSCOW", "BEIJING", "LAGOS", "OSLO"]
AGENCIES = ["Northwind", "Meridian", "Atlas"]
FORMATS = ["rss2", "atom", "rss1", "json"]


def sentence(rng, n=None):
    n = n or rng.randint(12, 28)
    words = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.4:
        words.insert(rng.randint(0, len(words)), rng.choice(NAMES))
    s = " ".join(words)
    return s[0].upper() + s[1:] + "."


def story(rng, sid):
    paras = [" ".join(sentence(rng) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(4, 7))]
    city, agency = rng.choice(CITIES), rng.choice(AGENCIES)
    return {
        "id": sid,
        "title": " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 11))).capitalize(),
        "dateline": f"{city}, Nov. {rng.randint(1, 28)} ({agency}) -- ",
        "paras": paras,
        "author": rng.choice(NAMES),
    }


def wrap(rng, st, source, copy):
    """HTML for one copy of a story on `source`: the original, or a wrapper."""
    paras = list(st["paras"])
    paras[0] = st["dateline"] + paras[0]
    html = "".join(f"<p>{escape(p)}</p>\n" for p in paras)
    if copy:
        html = (f"<p>Available For Posting Ad</p><p>{escape(source['name'])} &amp; wire report</p>\n"
                f"<figure><img src=\"https://img.example/{st['id']}.jpg\"><figcaption>File photo &copy; "
                f"{escape(source['name'])}</figcaption></figure>\n" + html +
                "<p>Related News: <a href=\"https://other.example/\">more</a></p>")
    return html


def item_xml_date(i, round_no):
    day = 1 + (i % 27)
    return day, f"{day:02d}", f"2026-11-{day:02d}T{(i * 7) % 24:02d}:{(i * 13) % 60:02d}:00Z"


def render(fmt, source, items):
    if fmt == "rss2":
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
               'xmlns:content="http://purl.org/rss/1.0/modules/content/">\n<channel>',
               f"<title>{escape(source['name'])}</title><link>{source['home']}</link>"
               "<description>Benchmark feed</description>"]
        for it in items:
            out.append(f"<item><title>{escape(it['title'])}</title><link>{it['link']}</link>"
                       f"<guid isPermaLink=\"false\">{it['guid']}</guid><pubDate>{it['rfc822']}</pubDate>"
                       f"<description>{escape(it['summary'])}</description>"
                       f"<content:encoded><![CDATA[{it['html']}]]></content:encoded></item>")
        out.append("</channel></rss>\n")
        return "\n".join(out)
    if fmt == "atom":
        out = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
               f"<title>{escape(source['name'])}</title><id>{source['home']}</id>"
               f"<updated>2026-11-28T00:00:00Z</updated>"]
        for it in items:
            out.append(f"<entry><title>{escape(it['title'])}</title><id>{it['guid']}</id>"
                       f"<link href=\"{it['link']}\"/><updated>{it['iso']}</updated>"
                       f"<author><name>{escape(it['author'])}</name></author>"
                       f"<summary>{escape(it['summary'])}</summary>"
                       f"<content type=\"html\">{escape(it['html'])}</content></entry>")
        out.append("</feed>\n")
        return "\n".join(out)
    if fmt == "rss1":
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF '
               'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
               'xmlns:dc="http://purl.org/dc/elements/1.1/" '
               'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
               f"<channel rdf:about=\"{source['home']}\"><title>{escape(source['name'])}</title>"
               f"<link>{source['home']}</link><description>Benchmark feed</description><items><rdf:Seq>"
               + "".join(f"<rdf:li rdf:resource=\"{it['link']}\"/>" for it in items)
               + "</rdf:Seq></items></channel>"]
        for it in items:
            out.append(f"<item rdf:about=\"{it['link']}\"><title>{escape(it['title'])}</title>"
                       f"<link>{it['link']}</link><dc:date>{it['iso']}</dc:date>"
                       f"<description>{escape(it['summary'])}</description>"
                       f"<content:encoded><![CDATA[{it['html']}]]></content:encoded></item>")
        out.append("</rdf:RDF>\n")
        return "\n".join(out)
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": source["name"],
        "home_page_url": source["home"],
        "items": [{"id": it["guid"], "url": it["link"], "title": it["title"],
                   "content_html": it["html"], "summary": it["summary"],
                   "date_published": it["iso"], "authors": [{"name": it["author"]}]}
                  for it in items],
    }, ensure_ascii=False, indent=1) + "\n"


MONTH = "Nov"
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--sources", type=int, default=500)
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--round", type=int, default=1)
    ap.add_argument("--copy-share", type=float, default=0.25,
                    help="share of items that are copies of another source's story")
    ap.add_argument("--changed", type=int, default=10, help="sources that change in round 2")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--only-from", type=int, default=0, help="write only sources from this index on")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    sources = [{"id": f"s{i:05d}", "name": f"Outlet {i} Ñews", "home": f"https://s{i}.example/",
                "fmt": FORMATS[i % len(FORMATS)]} for i in range(a.sources)]
    pool = [story(rng, f"w{k}") for k in range(max(1, a.sources * a.items // 8))]
    urls, copies, total, size = [], 0, 0, 0
    for si, src in enumerate(sources):
        if si < a.only_from:
            continue
        items = []
        n_new = 3 if (a.round > 1 and si < a.changed) else 0
        for j in range(-n_new, a.items - n_new):
            # One generator per (source, item): an item is the same in every
            # round, so round 2 differs from round 1 by its new items only.
            srng = random.Random(f"{a.seed}-{si}-{j}")
            is_copy = srng.random() < a.copy_share
            st = srng.choice(pool) if is_copy else story(srng, f"{src['id']}-{j}")
            copies += is_copy
            day, dd, iso = item_xml_date(j + 100, a.round)
            summary = st["paras"][0][:200]
            items.append({
                "guid": f"{src['id']}-item-{j}", "link": f"{src['home']}news/{j}?utm_source=rss",
                "title": st["title"], "summary": summary, "html": wrap(srng, st, src, is_copy),
                "iso": iso, "rfc822": f"{DAYS[day % 7]}, {dd} {MONTH} 2026 08:00:00 GMT",
                "author": st["author"],
            })
        total += len(items)
        ext = {"rss2": "xml", "atom": "atom", "rss1": "rdf", "json": "json"}[src["fmt"]]
        name = f"{src['id']}.{ext}"
        body = render(src["fmt"], src, items)
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(body)
        size += len(body.encode("utf-8"))
        urls.append(name)
    with open(os.path.join(a.out, "urls.txt"), "w") as f:
        f.write("\n".join(urls) + "\n")
    print(f"{len(urls)} sources, {total} items ({copies} syndicated copies), {size / 1e6:.1f} MB, round {a.round}")


if __name__ == "__main__":
    main()

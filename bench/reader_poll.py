#!/usr/bin/env python3
"""One update of every feed in URLS with the Python `reader` library, as a
user of it would run it: `update_feeds` with worker threads.

    python3 bench/reader_poll.py DB URLS_FILE WORKERS
"""
import sys

import reader


def main():
    db, urls, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    r = reader.make_reader(db)
    for url in open(urls).read().split():
        r.add_feed(url, exist_ok=True)
    r.update_feeds(workers=workers)
    print(r.get_entry_counts().total)
    r.close()


if __name__ == "__main__":
    main()

//! The fingerprint of one item: normalised body → shingles, exact keys, index keys, and
//! its compact stored form.

use sha2::{Digest, Sha256};

use super::html::html_to_blocks;
use super::keys::{canonical_link, title_key};
use super::text::{fold, for_each_token, hash_bytes, mix64};
use super::wrapper::{
    BOILERPLATE_MIN_ITEMS, Block, BoilerplateStats, EDGE_BLOCKS, Observation, is_ad_label,
    is_caption, is_credit_line, is_date_line, is_prose, paragraph_hash_of_tokens, strip_dateline,
};

/// Version of every rule that shapes the normalised body, the shingles and the keys.
/// It is part of the content hash input and of every index key, so items fingerprinted
/// under different rules never collide silently; bump it when a rule changes and
/// re-fingerprint the items inside the window (their HTML is stored).
pub const NORMALISATION_VERSION: u32 = 3;

/// Words (or CJK characters) per shingle.
pub const SHINGLE_TOKENS: usize = 4;
/// A body is cut after this many tokens (bounded cost on huge pages; ~40 screens of text).
pub const MAX_TOKENS: usize = 20_000;
/// Lead anchors: the shingles that start the first this-many paragraphs of the body.
pub const LEAD_ANCHORS: usize = 4;
/// MinHash LSH layout: `LSH_BANDS` bands of `LSH_ROWS` minima. With 10×2 a pair with
/// resemblance 0.5 is a candidate with probability 0.94, 0.3 → 0.61, 0.05 → 0.02.
pub const LSH_BANDS: usize = 10;
/// See [`LSH_BANDS`].
pub const LSH_ROWS: usize = 2;
/// Longest non-prose line treated as a page line at the edges of a body. A wire lead
/// that lacks its final full stop (`… figures have shown`) is 20+ tokens and must stay.
pub const MAX_PAGE_LINE_TOKENS: usize = 12;
/// The content hash is only an index key for bodies of at least this many tokens.
pub const MIN_BODY_TOKENS_FOR_HASH: u32 = 8;
/// The title key is only an index key with at least this many tokens (`Wire report` is a
/// replaced title shared by unrelated items of one outlet).
pub const MIN_TITLE_TOKENS: usize = 3;

const TAG_BODY: u64 = 1;
const TAG_LINK: u64 = 2;
const TAG_TITLE: u64 = 3;
const TAG_LEAD: u64 = 4;
const TAG_BAND: u64 = 16;

/// What the daemon knows about an item when it ingests it. HTML is the sanitised HTML it
/// stores (`ammonia::clean` output); raw HTML works too.
#[derive(Debug, Clone, Copy)]
pub struct DedupInput<'a> {
    /// Source (feed) id: boilerplate is learned per source.
    pub source: &'a str,
    /// Title, plain text.
    pub title: &'a str,
    /// Item link.
    pub link: Option<&'a str>,
    /// Publication time, unix seconds.
    pub published: i64,
    /// Feed description / summary (HTML).
    pub summary_html: &'a str,
    /// Full content (HTML), empty for summary-only items.
    pub content_html: &'a str,
}

/// The normalised body: paragraphs of lower-cased tokens joined by single spaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NormalisedBody {
    /// Kept paragraphs, in order.
    pub paragraphs: Vec<String>,
    /// The body's edge paragraphs (distinct), to record for boilerplate learning.
    pub observations: Vec<Observation>,
    /// Every block of the body is its source's learned boilerplate: the body is kept whole
    /// (a whole body is never boilerplate) but carries no story ([`Fingerprint::stub`]).
    pub all_boilerplate: bool,
}

impl NormalisedBody {
    /// Paragraphs joined by `\n`.
    pub fn text(&self) -> String {
        self.paragraphs.join("\n")
    }
}

/// Normalises an item's body (content, or the summary when it is longer).
///
/// Block rules, in order:
/// 1. HTML → blocks ([`super::html`]), each folded ([`super::text::fold`]); blocks with
///    no letter or digit dropped.
/// 2. Learned boilerplate: an edge block (first/last [`EDGE_BLOCKS`]) whose
///    [`paragraph_hash`] appeared in ≥ [`BOILERPLATE_MIN_ITEMS`] distinct earlier items of
///    the same source is dropped (`Available For Posting Ad`, `XY-Agency Report`,
///    `Share on Facebook`, a source note like `This story was published from a wire
///    feed…` once the outlet has used it a few times). A whole body is never
///    boilerplate: when every block is, none is dropped and the body is marked
///    [`NormalisedBody::all_boilerplate`] (a teaser feed's `Read the full story on our
///    website.` under every title).
/// 3. Page date lines ([`super::wrapper::is_date_line`]) and ad labels
///    ([`super::wrapper::is_ad_label`]) are dropped anywhere; so are non-prose photo
///    captions and credit lines in parentheses.
/// 4. Leading and trailing blocks that are short non-prose lines (at most
///    [`MAX_PAGE_LINE_TOKENS`] tokens), photo captions or credit lines are dropped (`Read more`, `Related News`, `Editor: Lee`, `(Reporting by …)`, a
///    caption `… (Agency/Name)` above the text). If that would leave nothing, step 4 is
///    skipped (a one-line teaser with no final full stop).
/// 5. A dateline is stripped from the start of the first three remaining blocks
///    ([`strip_dateline`]).
/// 6. Tokens ([`super::text::for_each_token`]), at most [`MAX_TOKENS`].
pub fn normalise_body(input: &DedupInput<'_>, stats: &impl BoilerplateStats) -> NormalisedBody {
    let content = to_blocks(input.content_html);
    let summary = to_blocks(input.summary_html);
    let ntok = |v: &[Block]| v.iter().map(|b| b.ntok).sum::<usize>();
    let raw = if ntok(&content) >= ntok(&summary) {
        content
    } else {
        summary
    };

    let n = raw.len();
    let is_edge = |i: usize| i < EDGE_BLOCKS || i + EDGE_BLOCKS >= n;
    // Each block's hash (digits masked at the edges, where page lines with times sit),
    // and their sum with the title key's: the rest of the item is the sum less one block.
    let hashes: Vec<u64> = raw
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if is_edge(i) {
                paragraph_hash_of_tokens(&b.tokens)
            } else {
                hash_bytes(b.tokens.as_bytes())
            }
        })
        .collect();
    let whole = hashes.iter().fold(
        mix64(hash_bytes(title_key(input.title).as_bytes())),
        |s, &h| s.wrapping_add(mix64(h)),
    );
    let mut observations: Vec<Observation> = Vec::new();
    let learned: Vec<bool> = hashes
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            if !is_edge(i) {
                return false;
            }
            if !observations.iter().any(|o| o.paragraph == h) {
                observations.push(Observation {
                    paragraph: h,
                    rest: whole.wrapping_sub(mix64(h)),
                });
            }
            stats.distinct_items(input.source, h) >= BOILERPLATE_MIN_ITEMS
        })
        .collect();
    let all_boilerplate = n > 0 && learned.iter().all(|&l| l);
    let mut kept: Vec<&Block> = Vec::with_capacity(n);
    for (b, &learned) in raw.iter().zip(&learned) {
        if learned && !all_boilerplate {
            continue;
        }
        if is_date_line(&b.text) || is_ad_label(&b.text) {
            continue;
        }
        if !is_prose(b) && (is_caption(b) || is_credit_line(b)) {
            continue;
        }
        kept.push(b);
    }
    let junk = |b: &Block| {
        (!is_prose(b) && b.ntok <= MAX_PAGE_LINE_TOKENS) || is_caption(b) || is_credit_line(b)
    };
    let start = kept.iter().position(|b| !junk(b));
    let end = kept.iter().rposition(|b| !junk(b));
    let body: &[&Block] = match (start, end) {
        (Some(s), Some(e)) if s <= e => kept.get(s..=e).unwrap_or(&[]),
        _ => &kept,
    };

    let mut paragraphs = Vec::with_capacity(body.len());
    let mut total = 0usize;
    for (i, b) in body.iter().enumerate() {
        let text = if i < 3 {
            strip_dateline(&b.text)
        } else {
            b.text.as_str()
        };
        // The block's own tokens unless a dateline was cut off it.
        if text.len() == b.text.len() && total + b.ntok <= MAX_TOKENS {
            total += b.ntok;
            if !b.tokens.is_empty() {
                paragraphs.push(b.tokens.clone());
            }
            continue;
        }
        let mut p = String::with_capacity(text.len());
        for_each_token(text, |t| {
            if total < MAX_TOKENS {
                if !p.is_empty() {
                    p.push(' ');
                }
                p.push_str(t);
                total += 1;
            }
        });
        if !p.is_empty() {
            paragraphs.push(p);
        }
    }
    NormalisedBody {
        paragraphs,
        observations,
        all_boilerplate,
    }
}

fn to_blocks(html: &str) -> Vec<Block> {
    html_to_blocks(html)
        .into_iter()
        .filter_map(|raw| {
            let block = Block::new(fold(&raw));
            (block.ntok > 0).then_some(block)
        })
        .collect()
}

/// Everything the decision needs about one item. Build it with [`fingerprint`]; store it
/// with [`Fingerprint::to_bytes`] or rebuild it from the stored HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// [`NORMALISATION_VERSION`] it was made with.
    pub version: u32,
    /// Publication time, unix seconds.
    pub published: i64,
    /// Content hash: the first 8 bytes of SHA-256 over the version and the normalised
    /// body; `None` for an empty body.
    pub body_hash: Option<u64>,
    /// Hash of the title key ([`title_key`]), `None` when it has under
    /// [`MIN_TITLE_TOKENS`] tokens.
    pub title_hash: Option<u64>,
    /// Hash of the canonical link ([`canonical_link`]).
    pub link_hash: Option<u64>,
    /// Tokens in the normalised body.
    pub body_tokens: u32,
    /// The body is all learned boilerplate ([`NormalisedBody::all_boilerplate`]): it
    /// carries no story, so it is evidence only between items with the same title key
    /// (see [`super::decide`]), and it is not indexed by its text.
    pub stub: bool,
    /// Distinct shingle hashes with their first token position, sorted by hash.
    pub(super) shingles: Vec<(u32, u32)>,
    /// Shingle hashes that start the first [`LEAD_ANCHORS`] paragraphs.
    pub(super) anchors: Vec<u32>,
    /// Boilerplate observations to record for the item's source.
    pub(super) observations: Vec<Observation>,
}

fn sha_u64(version: u32, text: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"wiredesk-dedup\0");
    h.update(version.to_le_bytes());
    h.update(text.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(d.iter()) {
        *dst = *src;
    }
    u64::from_be_bytes(b)
}

/// Fingerprints an item (pure). `stats` is asked about at most `2 * EDGE_BLOCKS`
/// paragraphs.
pub fn fingerprint(input: &DedupInput<'_>, stats: &impl BoilerplateStats) -> Fingerprint {
    let body = normalise_body(input, stats);
    fingerprint_body(input, body)
}

pub(super) fn fingerprint_body(input: &DedupInput<'_>, body: NormalisedBody) -> Fingerprint {
    let v = NORMALISATION_VERSION;
    let text = body.text();
    let mut toks: Vec<u64> = Vec::new();
    let mut para_starts: Vec<usize> = Vec::new();
    for p in &body.paragraphs {
        para_starts.push(toks.len());
        for t in p.split(' ') {
            toks.push(hash_bytes(t.as_bytes()));
        }
    }
    let body_tokens = u32::try_from(toks.len()).unwrap_or(u32::MAX);

    // Shingles: every run of SHINGLE_TOKENS tokens (one shingle for a shorter body).
    let k = SHINGLE_TOKENS.min(toks.len());
    let mut seq: Vec<u32> = Vec::new();
    if k > 0 {
        for w in toks.windows(k) {
            let mut h: u64 = u64::from(v);
            for &t in w {
                h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(t);
            }
            seq.push((mix64(h) >> 32) as u32);
        }
    }
    let mut shingles: Vec<(u32, u32)> = seq
        .iter()
        .enumerate()
        .map(|(i, &h)| (h, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    shingles.sort_unstable();
    shingles.dedup_by_key(|s| s.0);
    // Fingerprints are kept in a cache: no spare capacity.
    shingles.shrink_to_fit();

    let mut anchors: Vec<u32> = Vec::new();
    for &s in para_starts.iter() {
        if anchors.len() >= LEAD_ANCHORS {
            break;
        }
        if let Some(&h) = seq.get(s)
            && !anchors.contains(&h)
        {
            anchors.push(h);
        }
    }

    let tk = title_key(input.title);
    let title_hash = (tk.split(' ').filter(|w| !w.is_empty()).count() >= MIN_TITLE_TOKENS)
        .then(|| hash_bytes(tk.as_bytes()));
    let link_hash = input
        .link
        .and_then(canonical_link)
        .map(|l| hash_bytes(l.as_bytes()));
    let body_hash = (!text.is_empty()).then(|| sha_u64(v, &text));

    Fingerprint {
        version: v,
        published: input.published,
        body_hash,
        title_hash,
        link_hash,
        body_tokens,
        stub: body.all_boilerplate,
        shingles,
        anchors,
        observations: body.observations,
    }
}

fn key(tag: u64, version: u32, value: u64) -> u64 {
    mix64(value ^ mix64(tag.wrapping_mul(0x100_0000_01b3) ^ (u64::from(version) << 40)))
}

impl Fingerprint {
    /// Bytes of memory the fingerprint holds, its own size included.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Fingerprint>()
            + self.shingles.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.anchors.capacity() * std::mem::size_of::<u32>()
            + self.observations.capacity() * std::mem::size_of::<Observation>()
    }

    /// Number of distinct shingles.
    pub fn shingle_count(&self) -> u32 {
        u32::try_from(self.shingles.len()).unwrap_or(u32::MAX)
    }

    /// MinHash signature (`LSH_BANDS * LSH_ROWS` minima) of the shingle set.
    pub fn minhash(&self) -> [u64; LSH_BANDS * LSH_ROWS] {
        let mut mins = [u64::MAX; LSH_BANDS * LSH_ROWS];
        // One strong mix per shingle, then a cheap xor-multiply permutation per row.
        let mut seeds = [(0u64, 0u64); LSH_BANDS * LSH_ROWS];
        for (i, s) in seeds.iter_mut().enumerate() {
            let a = mix64(0x5eed ^ i as u64);
            *s = (a, mix64(a) | 1);
        }
        for &(h, _) in &self.shingles {
            let base = mix64(u64::from(h));
            for (m, &(x, k)) in mins.iter_mut().zip(seeds.iter()) {
                let v = (base ^ x).wrapping_mul(k);
                if v < *m {
                    *m = v;
                }
            }
        }
        mins
    }

    /// The keys to index this item under and to look its candidates up by: content hash,
    /// canonical link, title key, lead anchors and MinHash-LSH bands, each tagged by kind
    /// and [`NORMALISATION_VERSION`]. Distinct; at most 3 + LEAD_ANCHORS + LSH_BANDS.
    /// A [`Fingerprint::stub`] is indexed by its link and title only: its text is what
    /// every item of its source says, a key shared by all of them.
    pub fn index_keys(&self) -> Vec<u64> {
        let v = self.version;
        let mut keys = Vec::with_capacity(3 + LEAD_ANCHORS + LSH_BANDS);
        if let Some(h) = self.body_hash
            && self.body_tokens >= MIN_BODY_TOKENS_FOR_HASH
            && !self.stub
        {
            keys.push(key(TAG_BODY, v, h));
        }
        if let Some(h) = self.link_hash {
            keys.push(key(TAG_LINK, v, h));
        }
        if let Some(h) = self.title_hash {
            keys.push(key(TAG_TITLE, v, h));
        }
        for &a in self.anchors.iter().filter(|_| !self.stub) {
            keys.push(key(TAG_LEAD, v, u64::from(a)));
        }
        if !self.shingles.is_empty() && !self.stub {
            let mins = self.minhash();
            for (b, rows) in mins.chunks(LSH_ROWS).enumerate() {
                let mut h = b as u64;
                for &r in rows {
                    h = mix64(h.wrapping_mul(31) ^ r);
                }
                keys.push(key(TAG_BAND + b as u64, v, h));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Boilerplate-learning observations: the body's edge blocks (distinct paragraph
    /// hashes, each with the rest of the item). After storing the item, add each rest to
    /// its `(source, paragraph)` set ([`BoilerplateStats`]).
    pub fn boilerplate_observations(&self) -> &[Observation] {
        &self.observations
    }

    /// Compact binary form (varints; shingles delta-coded), for a cache or a BLOB column.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.shingles.len() * 5);
        out.push(FORMAT);
        put_varint(&mut out, u64::from(self.version));
        put_varint(&mut out, zigzag(self.published));
        let flags = u8::from(self.body_hash.is_some())
            | (u8::from(self.title_hash.is_some()) << 1)
            | (u8::from(self.link_hash.is_some()) << 2)
            | (u8::from(self.stub) << 3);
        out.push(flags);
        for h in [self.body_hash, self.title_hash, self.link_hash]
            .into_iter()
            .flatten()
        {
            out.extend_from_slice(&h.to_le_bytes());
        }
        put_varint(&mut out, u64::from(self.body_tokens));
        put_varint(&mut out, self.shingles.len() as u64);
        let mut prev = 0u32;
        for &(h, p) in &self.shingles {
            put_varint(&mut out, u64::from(h.wrapping_sub(prev)));
            put_varint(&mut out, u64::from(p));
            prev = h;
        }
        put_varint(&mut out, self.anchors.len() as u64);
        for &a in &self.anchors {
            out.extend_from_slice(&a.to_le_bytes());
        }
        put_varint(&mut out, self.observations.len() as u64);
        for o in &self.observations {
            out.extend_from_slice(&o.paragraph.to_le_bytes());
            out.extend_from_slice(&o.rest.to_le_bytes());
        }
        out
    }

    /// Reads [`Fingerprint::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.byte()? != FORMAT {
            return Err(DecodeError::Format);
        }
        let version = u32::try_from(r.varint()?).map_err(|_| DecodeError::Corrupt)?;
        let published = unzigzag(r.varint()?);
        let flags = r.byte()?;
        if flags & !0b1111 != 0 {
            return Err(DecodeError::Corrupt);
        }
        let mut opt = |bit: u8| -> Result<Option<u64>, DecodeError> {
            if flags & bit != 0 {
                Ok(Some(r.u64()?))
            } else {
                Ok(None)
            }
        };
        let body_hash = opt(1)?;
        let title_hash = opt(2)?;
        let link_hash = opt(4)?;
        let body_tokens = u32::try_from(r.varint()?).map_err(|_| DecodeError::Corrupt)?;
        let n = r.len_prefix()?;
        let mut shingles = Vec::with_capacity(n);
        let mut prev = 0u32;
        for _ in 0..n {
            let d = u32::try_from(r.varint()?).map_err(|_| DecodeError::Corrupt)?;
            let p = u32::try_from(r.varint()?).map_err(|_| DecodeError::Corrupt)?;
            prev = prev.wrapping_add(d);
            shingles.push((prev, p));
        }
        let n = r.len_prefix()?;
        let mut anchors = Vec::with_capacity(n);
        for _ in 0..n {
            anchors.push(r.u32()?);
        }
        let n = r.len_prefix()?;
        let mut observations = Vec::with_capacity(n);
        for _ in 0..n {
            observations.push(Observation {
                paragraph: r.u64()?,
                rest: r.u64()?,
            });
        }
        if r.pos != bytes.len() {
            return Err(DecodeError::Corrupt);
        }
        Ok(Fingerprint {
            version,
            published,
            body_hash,
            title_hash,
            link_hash,
            body_tokens,
            stub: flags & 8 != 0,
            shingles,
            anchors,
            observations,
        })
    }
}

/// 0xD1: observations without the rest of the item; 0xD2: with it.
const FORMAT: u8 = 0xD2;

/// Why [`Fingerprint::from_bytes`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a fingerprint, or a format this build does not read.
    #[error("not a dedup fingerprint (unknown format byte)")]
    Format,
    /// Cut short.
    #[error("dedup fingerprint is truncated")]
    Truncated,
    /// A value out of range or trailing bytes.
    #[error("dedup fingerprint is corrupt")]
    Corrupt,
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let x = *self.b.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(x)
    }
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Corrupt)
    }
    fn len_prefix(&mut self) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError::Corrupt)?;
        if n > self.b.len() {
            return Err(DecodeError::Corrupt);
        }
        Ok(n)
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        for x in &mut a {
            *x = self.byte()?;
        }
        Ok(u64::from_le_bytes(a))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        for x in &mut a {
            *x = self.byte()?;
        }
        Ok(u32::from_le_bytes(a))
    }
}

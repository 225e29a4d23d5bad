//! Datelines of agencies that write in other scripts: the shapes
//! [`super::strip_dateline`] tries before the Latin ones, and the agency
//! names that follow a dateline after its dash or between slashes.
//!
//! Each shape is written from the agencies' own practice (text folded by
//! [`super::text::fold`] first: full-width digits, brackets and commas are
//! ASCII, dashes are `-`):
//! - Chinese: `新华社北京11月13日电(记者 王磊)`, `北京11月13日电`, `中新网11月13日讯`:
//!   a few Han characters (agency, place), a date in `月`/`日`, then `电` or `讯`, and
//!   the reporters in parentheses.
//! - Japanese and Chinese papers: a lead in lenticular brackets, `【北京共同】`,
//!   `【ワシントン時事】`, `【环球时报记者 李明】`, or Reuters Japan's
//!   `[東京 13日 ロイター] -`: a short bracket with CJK in it.
//! - Cyrillic: `МОСКВА, 13 ноября - РИА Новости.` (the Latin shape `PLACE, DATE -`
//!   followed by the agency and a full stop) and TASS's `МОСКВА, 13 ноября. /ТАСС/.`
//! - Arabic: `القاهرة (رويترز) -` and `دبي، 13 نوفمبر (رويترز) -` (the Latin shapes, in
//!   a script without capitals and with its own comma), `القاهرة - (أ ش أ) -`, and
//!   WAM's `أبوظبي في 13 نوفمبر / وام /`.

/// The longest bracketed lead: `【ニューヨーク=共同】` is 11 characters.
const MAX_BRACKET_CHARS: usize = 24;
/// The longest run of Han characters before a Chinese date: agency and place
/// (`中国新闻网乌鲁木齐`).
const MAX_CJK_PREFIX_CHARS: usize = 16;
/// The longest reporter credit after a Chinese dateline, in characters.
const MAX_CREDIT_CHARS: usize = 30;
/// The most words of an agency name after a dateline (`РИА Новости`, `أ ش أ`).
const MAX_AGENCY_WORDS: usize = 3;

/// Han ideographs, kana and hangul: the scripts a bracketed lead is written in.
pub(super) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{3040}'..='\u{30FF}'
        | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// The first `bytes` of `s` at most, cut at a character boundary.
fn prefix(s: &str, bytes: usize) -> &str {
    let mut end = s.len().min(bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// What follows a stripped lead: the text, if it has any.
fn text_after(rest: &str) -> Option<&str> {
    let rest = rest.trim_start_matches([' ', '-', ':', ',']);
    rest.chars().any(char::is_alphanumeric).then_some(rest)
}

/// A lead in brackets with CJK in it: `【北京共同】`, `[東京 13日 ロイター] -`.
pub(super) fn strip_bracketed(s: &str) -> Option<&str> {
    let open = s.chars().next()?;
    let close = match open {
        '【' => '】',
        '[' => ']',
        '〔' => '〕',
        _ => return None,
    };
    let (inner_end, _) = s
        .char_indices()
        .take(MAX_BRACKET_CHARS + 2)
        .find(|&(_, c)| c == close)?;
    let inner = s.get(open.len_utf8()..inner_end).unwrap_or("");
    if !inner.chars().any(is_cjk) {
        return None;
    }
    text_after(s.get(inner_end + close.len_utf8()..).unwrap_or(""))
}

/// A Chinese dateline: `新华社北京11月13日电(记者 王磊)`, `中新网2026年11月13日讯`.
pub(super) fn strip_chinese(s: &str) -> Option<&str> {
    let mut rest = s;
    let mut han = 0;
    while let Some(c) = rest.chars().next().filter(|&c| is_han(c)) {
        han += 1;
        if han > MAX_CJK_PREFIX_CHARS {
            return None;
        }
        rest = rest.get(c.len_utf8()..)?;
    }
    let number = |r: &str, max: usize| -> Option<usize> {
        let n = r.chars().take_while(char::is_ascii_digit).count();
        (1..=max).contains(&n).then_some(n)
    };
    // An optional year, then month and day.
    if let Some(n) = number(rest, 4)
        && rest.get(n..)?.starts_with('年')
    {
        rest = rest.get(n + '年'.len_utf8()..)?;
    }
    let n = number(rest, 2)?;
    rest = rest.get(n..)?.strip_prefix('月')?;
    let n = number(rest, 2)?;
    rest = rest.get(n..)?.strip_prefix('日')?;
    rest = rest
        .strip_prefix('电')
        .or_else(|| rest.strip_prefix('讯'))?
        .trim_start();
    // The reporters, in parentheses.
    if let Some(inner) = rest.strip_prefix('(')
        && let Some((end, _)) = inner
            .char_indices()
            .take(MAX_CREDIT_CHARS + 1)
            .find(|&(_, c)| c == ')')
    {
        rest = inner.get(end + 1..)?;
    }
    text_after(rest)
}

/// Whether `s` reads as an agency's name: 1 to [`MAX_AGENCY_WORDS`] words, none of
/// them in ASCII letters (the Latin agencies come in parentheses, handled by the Latin
/// shapes), each starting with a capital or in a script without capitals.
fn is_agency(s: &str) -> bool {
    let words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    !words.is_empty()
        && words.len() <= MAX_AGENCY_WORDS
        && !s.chars().any(|c| c.is_ascii_alphabetic())
        && words.iter().all(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() && !c.is_lowercase())
        })
}

/// The longest place-and-date before an agency in parentheses or slashes, in bytes
/// (`دبي، 13 نوفمبر`, `МОСКВА, 13 ноября.`).
const MAX_PLACE_BYTES: usize = 60;
/// ... and in words.
const MAX_PLACE_WORDS: usize = 5;

/// A place (and date) in another script, then an agency in parentheses or slashes:
/// `القاهرة (رويترز) -`, `دبي، 13 نوفمبر (رويترز) -`, `القاهرة - (أ ش أ) -`,
/// `أبوظبي في 13 نوفمبر / وام /`, `МОСКВА, 13 ноября. /ТАСС/.`. An agency in parentheses
/// must be followed by a dash or a colon (`Министр (Иванов) заявил` is a sentence).
pub(super) fn strip_with_agency(s: &str) -> Option<&str> {
    let head = prefix(s, MAX_PLACE_BYTES + 4);
    let (p, open) = head.char_indices().find(|&(_, c)| c == '(' || c == '/')?;
    let place = s.get(..p)?.trim_end_matches([' ', '-', '.', ',', '،']);
    let words = place
        .split([' ', ',', '،'])
        .filter(|w| !w.is_empty())
        .count();
    if words == 0
        || words > MAX_PLACE_WORDS
        || place.chars().any(|c| c.is_ascii_alphabetic())
        || !place.chars().next().is_some_and(char::is_alphabetic)
    {
        return None;
    }
    let rest = s.get(p..)?;
    if open == '(' {
        let close = rest.find(')')?;
        let after = rest.get(close + 1..)?.trim_start();
        if !after.starts_with(['-', ':']) {
            return None;
        }
    }
    strip_agency_after(rest)
}

/// The agency that follows a dateline's separator in other scripts:
/// `РИА Новости. …`, `/ТАСС/. …`, `/ وام / …`, `(أ ش أ) - …`. `None` when `rest` does not
/// start with one.
pub(super) fn strip_agency_after(rest: &str) -> Option<&str> {
    let (agency, after) = if let Some(inner) = rest.strip_prefix('/') {
        let end = inner.find('/')?;
        (inner.get(..end)?, inner.get(end + 1..)?)
    } else if let Some(inner) = rest.strip_prefix('(') {
        let end = inner.find(')')?;
        (inner.get(..end)?, inner.get(end + 1..)?)
    } else {
        // `РИА Новости. Текст`: the name, then a full stop.
        let end = prefix(rest, 60).find(". ")?;
        (rest.get(..end)?, rest.get(end + 1..)?)
    };
    if !is_agency(agency.trim()) {
        return None;
    }
    text_after(after.trim_start_matches(['.', ' ']))
}

#[cfg(test)]
mod tests {
    use super::super::strip_dateline;
    use super::super::text::fold;

    /// Real shapes, invented sentences; each folded first, as the normaliser does.
    #[test]
    fn datelines_beyond_latin_script_are_stripped() {
        for (raw, text) in [
            (
                "新华社北京11月13日电（记者王磊、李娜）国家统计局13日发布数据显示，工业生产保持稳定。",
                "国家统计局13日发布数据显示,工业生产保持稳定。",
            ),
            (
                "北京11月13日电 国家统计局13日发布数据。",
                "国家统计局13日发布数据。",
            ),
            (
                "中新网2026年11月13日讯 据气象部门消息,寒潮将至。",
                "据气象部门消息,寒潮将至。",
            ),
            (
                "【北京共同】中国国家統計局は13日、統計を発表した。",
                "中国国家統計局は13日、統計を発表した。",
            ),
            (
                "【ワシントン時事】米財務省は13日、声明を出した。",
                "米財務省は13日、声明を出した。",
            ),
            (
                "［東京 １３日 ロイター］ - 日銀は13日、決定した。",
                "日銀は13日、決定した。",
            ),
            (
                "МОСКВА, 13 ноября – РИА Новости. Правительство утвердило новый бюджет.",
                "Правительство утвердило новый бюджет.",
            ),
            (
                "МОСКВА, 13 ноября. /ТАСС/. Правительство утвердило новый бюджет.",
                "Правительство утвердило новый бюджет.",
            ),
            (
                "القاهرة (رويترز) - قال البنك المركزي إنه أبقى أسعار الفائدة.",
                "قال البنك المركزي إنه أبقى أسعار الفائدة.",
            ),
            (
                "دبي، 13 نوفمبر (رويترز) - ارتفعت أسعار النفط.",
                "ارتفعت أسعار النفط.",
            ),
            (
                "القاهرة - (أ ش أ) - افتتح الوزير المعرض.",
                "افتتح الوزير المعرض.",
            ),
            (
                "أبوظبي في 13 نوفمبر / وام / أعلنت الوزارة عن خطة جديدة.",
                "أعلنت الوزارة عن خطة جديدة.",
            ),
            // Latin words after a Latin dateline stay.
            (
                "LONDON - Prime Minister. The play opened.",
                "Prime Minister. The play opened.",
            ),
        ] {
            let folded = fold(raw);
            assert_eq!(strip_dateline(&folded), fold(text), "{raw}");
        }
    }

    #[test]
    fn sentences_in_those_scripts_keep_their_start() {
        for raw in [
            "国家统计局11月13日发布数据显示,工业生产保持稳定。",
            "中国国家統計局は13日、統計を発表した。",
            "Правительство утвердило бюджет - впервые за три года.",
            "В Москве 13 ноября открылась выставка. Её посетили тысячи людей.",
            "قال البنك المركزي - في بيان - إنه أبقى أسعار الفائدة.",
            "[Updated] The ministry said on Friday it would publish the figures.",
            "Министр (Иванов) заявил, что бюджет утвердят в декабре.",
        ] {
            let folded = fold(raw);
            assert_eq!(strip_dateline(&folded), folded, "{raw}");
        }
    }
}

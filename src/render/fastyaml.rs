//! A fast reader for the restricted YAML that Istio's injection templates render (block
//! mappings and sequences, single-line scalars, `|`/`|-` literals, single- or multi-line flow
//! collections), straight into `serde_json::Value`.
//!
//! Parsing the rendered template with serde-saphyr cost about half of a whole injection, and
//! the rendered text only ever uses a small corner of YAML. This reader accepts that corner
//! and answers `None` for anything else (anchors, tags, folded or indented-indicator block
//! scalars, multi-line plain or quoted scalars, documents markers, tabs, duplicate keys, odd
//! indentation…), so the caller falls back to serde-saphyr, which stays the reference: for
//! every text this reader accepts it must produce exactly serde-saphyr's value (YAML 1.1
//! booleans, `~`/`null` as null, integers). Plain scalars whose typing is not obvious from
//! their first character (signed or leading-zero numbers, floats, `.inf`) are resolved by
//! serde-saphyr itself, one scalar at a time.

use serde_json::map::Entry;
use serde_json::{Map, Value as Json};

/// The text is outside the subset: use the full parser.
#[derive(Debug)]
struct Bail;

type R<T> = Result<T, Bail>;

/// How plain `true`-like scalars are typed: the two ways serde-saphyr is used in this project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Booleans {
    /// YAML 1.1 (`yes`, `on`, `n`, any case), as sigs.k8s.io/yaml reads templates.
    Yaml11,
    /// YAML 1.2 (`true`, `True`, `TRUE` and the same for false): serde-saphyr's
    /// `strict_booleans`, as the offline loader reads files.
    Strict,
}

/// Parses `text` when it lies in the subset; `None` means "ask the full parser".
pub(crate) fn parse(text: &str) -> Option<Json> {
    parse_with(text, Booleans::Yaml11)
}

/// [`parse`] with the given boolean rules (serde-saphyr's `strict_booleans` or not).
pub(crate) fn parse_with(text: &str, booleans: Booleans) -> Option<Json> {
    if text.starts_with('\u{feff}') {
        return None;
    }
    // Tabs and carriage returns anywhere; document markers and directives at column 0.
    let bytes = text.as_bytes();
    if bytes.contains(&b'\t') || bytes.contains(&b'\r') || !yaml_printable(bytes) {
        return None;
    }
    let marker = |at: usize| {
        let rest = &bytes[at..];
        rest.starts_with(b"---") || rest.starts_with(b"...") || rest.starts_with(b"%")
    };
    if marker(0) || text.match_indices('\n').any(|(i, _)| marker(i + 1)) {
        return None;
    }
    let mut p = Reader {
        src: text,
        b: text.as_bytes(),
        pos: 0,
        booleans,
        depth: 0,
    };
    let (start, indent) = p.peek_line()?;
    p.pos = start + indent;
    let v = p.node(indent, -1).ok()?;
    if p.peek_line().is_some() {
        return None;
    }
    Some(v)
}

struct Reader<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    booleans: Booleans,
    /// How many collections enclose the current one: deep nesting is left to serde-saphyr,
    /// which bounds it with an error, so that this reader never recurses without bound.
    depth: usize,
}

/// Nesting beyond this is serde-saphyr's to read (and, past its own bound, to refuse).
const MAX_DEPTH: usize = 64;

/// Whether every character is one YAML allows in a stream (its `c-printable` set; tab and
/// carriage return are excluded above): no C0 controls but newline, no DEL, no C1 controls
/// but NEL, no U+FFFE or U+FFFF, and no byte order mark past the start. serde-saphyr rejects
/// the others (as go-yaml does), and so must this reader by leaving them to it. Works on
/// bytes, so that ASCII text costs one pass.
fn yaml_printable(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' | 0x20..=0x7E => {}
            0x00..=0x1F | 0x7F => return false,
            // U+0080..U+009F, except U+0085.
            0xC2 if bytes
                .get(i + 1)
                .is_some_and(|&n| (0x80..=0x9F).contains(&n) && n != 0x85) =>
            {
                return false;
            }
            // U+FFFE and U+FFFF.
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && bytes.get(i + 2).is_some_and(|&n| n == 0xBE || n == 0xBF) =>
            {
                return false;
            }
            // U+FEFF: serde-saphyr refuses a byte order mark inside a document.
            0xEF if bytes.get(i + 1) == Some(&0xBB) && bytes.get(i + 2) == Some(&0xBF) => {
                return false;
            }
            _ => {}
        }
        i += 1;
    }
    true
}

/// `- ` or a lone `-` at the start of `rest`: a block sequence entry.
fn is_dash_entry(rest: &[u8]) -> bool {
    rest.first() == Some(&b'-') && matches!(rest.get(1), None | Some(b' ' | b'\n'))
}

/// First characters that make a plain scalar impossible or special (YAML indicators).
fn bad_plain_start(c: u8) -> bool {
    matches!(
        c,
        b'[' | b']'
            | b'{'
            | b'}'
            | b','
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
            | b'?'
            | b':'
    )
}

impl<'a> Reader<'a> {
    fn cur(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn line_end(&self) -> usize {
        self.b[self.pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |i| self.pos + i)
    }

    /// Moves to the start of the next line.
    fn skip_line(&mut self) {
        let end = self.line_end();
        self.pos = (end + 1).min(self.b.len());
    }

    fn skip_spaces(&mut self) {
        while self.cur() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// At the end of the line or at a comment (after skipped spaces).
    fn at_eol_or_comment(&self) -> bool {
        match self.cur() {
            None | Some(b'\n') => true,
            Some(b'#') => self.pos == 0 || matches!(self.b[self.pos - 1], b' ' | b'\n'),
            _ => false,
        }
    }

    /// Requires the rest of the line to be blank or a comment, then moves past it.
    fn finish_line(&mut self) -> R<()> {
        self.skip_spaces();
        if !self.at_eol_or_comment() {
            return Err(Bail);
        }
        self.skip_line();
        Ok(())
    }

    /// The next line with content (not blank, not only a comment), from the line start at
    /// `self.pos`: its start and indentation.
    fn peek_line(&self) -> Option<(usize, usize)> {
        let mut start = self.pos;
        while start < self.b.len() {
            let mut i = start;
            while i < self.b.len() && self.b[i] == b' ' {
                i += 1;
            }
            match self.b.get(i) {
                None => return None,
                Some(b'\n' | b'#') => {
                    start = self.b[i..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(self.b.len(), |n| i + n + 1);
                }
                Some(_) => return Some((start, i - start)),
            }
        }
        None
    }

    /// A block node whose content starts at `self.pos` in column `col`; `parent` is the
    /// indentation of the enclosing block collection (-1 at the top).
    fn node(&mut self, col: usize, parent: isize) -> R<Json> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        let v = self.node_at_depth(col, parent);
        self.depth -= 1;
        v
    }

    fn node_at_depth(&mut self, col: usize, parent: isize) -> R<Json> {
        let rest = &self.b[self.pos..];
        if is_dash_entry(rest) {
            return self.seq(col);
        }
        match rest.first() {
            Some(b'|' | b'>') => return self.block_scalar(parent),
            Some(b'[' | b'{') => return self.inline_value(parent),
            _ => {}
        }
        if let Some(first) = self.map_key()? {
            return self.map(col, first);
        }
        self.inline_value(parent)
    }

    fn seq(&mut self, col: usize) -> R<Json> {
        let mut items = Vec::new();
        loop {
            self.pos += 1; // the dash
            self.skip_spaces();
            if self.at_eol_or_comment() {
                self.skip_line();
                match self.peek_line() {
                    Some((start, ind)) if ind > col => {
                        self.pos = start + ind;
                        items.push(self.node(ind, col as isize)?);
                    }
                    _ => items.push(Json::Null),
                }
            } else {
                let c = self.pos - self.line_start();
                items.push(self.node(c, col as isize)?);
            }
            match self.peek_line() {
                Some((start, ind)) if ind == col && is_dash_entry(&self.b[start + ind..]) => {
                    self.pos = start + ind;
                }
                Some((_, ind)) if ind > col => return Err(Bail),
                _ => break,
            }
        }
        Ok(Json::Array(items))
    }

    fn line_start(&self) -> usize {
        self.b[..self.pos]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |i| i + 1)
    }

    /// A block mapping in column `col` whose first key (and the position after its colon)
    /// is `first`.
    fn map(&mut self, col: usize, first: (String, usize)) -> R<Json> {
        let mut m = Map::new();
        let mut next = Some(first);
        loop {
            let Some((key, after)) = next
                .take()
                .map_or_else(|| self.map_key(), |k| Ok(Some(k)))?
            else {
                return Err(Bail);
            };
            self.pos = after;
            self.skip_spaces();
            let value = if self.at_eol_or_comment() {
                self.skip_line();
                match self.peek_line() {
                    Some((start, ind)) if ind > col => {
                        self.pos = start + ind;
                        self.node(ind, col as isize)?
                    }
                    Some((start, ind)) if ind == col && is_dash_entry(&self.b[start + ind..]) => {
                        self.pos = start + ind;
                        self.seq(col)?
                    }
                    _ => Json::Null,
                }
            } else {
                match self.cur() {
                    Some(b'|' | b'>') => self.block_scalar(col as isize)?,
                    Some(b'[' | b'{') => self.inline_value(col as isize)?,
                    _ if is_dash_entry(&self.b[self.pos..]) => return Err(Bail),
                    // `a: b: c` is refused by `inline_value` (a quoted scalar must end its
                    // line, a plain one must not contain `: `).
                    _ => self.inline_value(col as isize)?,
                }
            };
            match m.entry(key) {
                Entry::Vacant(e) => {
                    e.insert(value);
                }
                Entry::Occupied(_) => return Err(Bail),
            }
            match self.peek_line() {
                Some((start, ind)) if ind == col => {
                    self.pos = start + ind;
                    if is_dash_entry(&self.b[self.pos..]) {
                        return Err(Bail);
                    }
                }
                Some((_, ind)) if ind > col => return Err(Bail),
                _ => break,
            }
        }
        Ok(Json::Object(m))
    }

    /// If the line at `self.pos` is `key: …` (or `key:`), the key and the position after
    /// the colon.
    fn map_key(&self) -> R<Option<(String, usize)>> {
        let line = &self.b[self.pos..];
        match line.first() {
            Some(b'"' | b'\'') => {
                let (key, close) = self.quoted_on_line(self.pos)?;
                let after = &self.b[close..];
                if after.first() == Some(&b':') && matches!(after.get(1), None | Some(b' ' | b'\n'))
                {
                    check_key(&key)?;
                    return Ok(Some((key, close + 1)));
                }
                Ok(None)
            }
            Some(&c) if bad_plain_start(c) => Ok(None),
            _ => {
                for (i, &c) in line.iter().enumerate() {
                    match c {
                        b':' if matches!(line.get(i + 1), None | Some(b' ' | b'\n')) => {
                            let key = self.src[self.pos..self.pos + i].trim_end_matches(' ');
                            if key.is_empty() {
                                return Err(Bail);
                            }
                            check_key(key)?;
                            return Ok(Some((key.to_string(), self.pos + i + 1)));
                        }
                        b'#' if i > 0 && line[i - 1] == b' ' => return Ok(None),
                        b'\n' => return Ok(None),
                        _ => {}
                    }
                }
                Ok(None)
            }
        }
    }

    /// A single-line value at `self.pos` (flow collection, quoted or plain scalar) that
    /// ends its line; consumes the line.
    fn inline_value(&mut self, parent: isize) -> R<Json> {
        match self.cur() {
            Some(b'[' | b'{') => {
                let v = self.flow(parent)?;
                self.finish_line()?;
                Ok(v)
            }
            Some(b'"' | b'\'') => {
                let (s, close) = self.quoted_on_line(self.pos)?;
                self.pos = close;
                self.finish_line()?;
                Ok(Json::String(s))
            }
            Some(c) if !bad_plain_start(c) => {
                // One scan to the end of the line or a comment; `: ` or a final `:` would
                // make this a mapping, which is not a single-line value.
                let start = self.pos;
                let mut end = start;
                while let Some(&c) = self.b.get(end) {
                    match c {
                        b'\n' => break,
                        b'#' if self.b[end - 1] == b' ' => break,
                        b':' if matches!(self.b.get(end + 1), None | Some(b' ' | b'\n')) => {
                            return Err(Bail);
                        }
                        _ => end += 1,
                    }
                }
                let text = self.src[start..end].trim_end_matches(' ');
                let v = resolve_plain(text, self.booleans)?;
                self.pos = end;
                self.skip_line();
                Ok(v)
            }
            _ => Err(Bail),
        }
    }

    /// A quoted scalar opening at `at` and closing on the same line: its value and the
    /// position after the closing quote.
    fn quoted_on_line(&self, at: usize) -> R<(String, usize)> {
        let quote = self.b[at];
        let mut out = String::new();
        let mut i = at + 1;
        let mut run = i;
        loop {
            match self.b.get(i) {
                None | Some(b'\n') => return Err(Bail),
                Some(&c) if c == quote => {
                    if quote == b'\'' && self.b.get(i + 1) == Some(&b'\'') {
                        out.push_str(&self.src[run..=i]);
                        i += 2;
                        run = i;
                        continue;
                    }
                    out.push_str(&self.src[run..i]);
                    return Ok((out, i + 1));
                }
                Some(b'\\') if quote == b'"' => {
                    out.push_str(&self.src[run..i]);
                    let (c, len) = self.escape(i)?;
                    out.push(c);
                    i += len;
                    run = i;
                }
                Some(_) => i += 1,
            }
        }
    }

    /// A double-quoted escape at `at` (the backslash): the character and the length.
    fn escape(&self, at: usize) -> R<(char, usize)> {
        let c = match self.b.get(at + 1) {
            Some(b'\\') => '\\',
            Some(b'"') => '"',
            Some(b'/') => '/',
            Some(b'n') => '\n',
            Some(b't') => '\t',
            Some(b'r') => '\r',
            Some(b'0') => '\0',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'x') => return self.hex_escape(at, 2),
            Some(b'u') => return self.hex_escape(at, 4),
            _ => return Err(Bail),
        };
        Ok((c, 2))
    }

    fn hex_escape(&self, at: usize, digits: usize) -> R<(char, usize)> {
        let hex = self.src.get(at + 2..at + 2 + digits).ok_or(Bail)?;
        if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(Bail);
        }
        let code = u32::from_str_radix(hex, 16).map_err(|_| Bail)?;
        let c = char::from_u32(code).ok_or(Bail)?;
        Ok((c, 2 + digits))
    }

    /// A `|` or `|-` literal block scalar at `self.pos`, its content indented more than
    /// `parent`. Consumes through its last line.
    fn block_scalar(&mut self, parent: isize) -> R<Json> {
        if self.cur() != Some(b'|') {
            return Err(Bail);
        }
        self.pos += 1;
        let strip = match self.cur() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b' ' | b'\n') | None => false,
            _ => return Err(Bail),
        };
        self.finish_line()?;
        let mut indent: Option<usize> = None;
        let mut leading_blank_max = 0;
        let mut out = String::new();
        let mut pending_newlines = 0usize;
        let mut any_text = false;
        while self.pos < self.b.len() {
            let end = self.line_end();
            let line = &self.src[self.pos..end];
            let spaces = line.len() - line.trim_start_matches(' ').len();
            let blank = spaces == line.len();
            let text_start = match indent {
                None if blank => {
                    leading_blank_max = leading_blank_max.max(spaces);
                    None
                }
                None => {
                    if spaces as isize <= parent {
                        break;
                    }
                    if leading_blank_max > spaces {
                        return Err(Bail);
                    }
                    indent = Some(spaces);
                    Some(spaces)
                }
                Some(ind) if blank => (spaces > ind).then_some(ind),
                Some(ind) if spaces < ind => break,
                Some(ind) => Some(ind),
            };
            match text_start {
                Some(ind) => {
                    for _ in 0..pending_newlines {
                        out.push('\n');
                    }
                    pending_newlines = 0;
                    if any_text {
                        out.push('\n');
                    }
                    out.push_str(&line[ind..]);
                    any_text = true;
                }
                None => pending_newlines += 1,
            }
            self.pos = end;
            self.skip_line();
        }
        if !any_text {
            return Err(Bail);
        }
        if !strip {
            out.push('\n');
        }
        Ok(Json::String(out))
    }

    /// Skips spaces, line breaks and comments inside a flow collection; continuation lines
    /// must be indented at least as far as `parent`.
    fn flow_ws(&mut self, parent: isize) -> R<()> {
        loop {
            match self.cur() {
                Some(b' ') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    let start = self.pos;
                    self.skip_spaces();
                    let ind = (self.pos - start) as isize;
                    if ind < parent && !self.at_eol_or_comment() {
                        return Err(Bail);
                    }
                }
                Some(b'#') if self.at_eol_or_comment() => {
                    self.pos = self.line_end();
                }
                None => return Err(Bail),
                _ => return Ok(()),
            }
        }
    }

    fn flow(&mut self, parent: isize) -> R<Json> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        let v = self.flow_at_depth(parent);
        self.depth -= 1;
        v
    }

    fn flow_at_depth(&mut self, parent: isize) -> R<Json> {
        match self.cur() {
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.flow_ws(parent)?;
                    if self.cur() == Some(b']') {
                        self.pos += 1;
                        return Ok(Json::Array(items));
                    }
                    items.push(self.flow_node(parent)?);
                    self.flow_ws(parent)?;
                    match self.cur() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(Bail),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut m = Map::new();
                loop {
                    self.flow_ws(parent)?;
                    if self.cur() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Json::Object(m));
                    }
                    let key = match self.cur() {
                        Some(b'"' | b'\'') => {
                            let (k, close) = self.quoted_on_line(self.pos)?;
                            self.pos = close;
                            k
                        }
                        _ => self.flow_plain(true)?.to_string(),
                    };
                    check_key(&key)?;
                    self.flow_ws(parent)?;
                    if self.cur() != Some(b':') {
                        return Err(Bail);
                    }
                    self.pos += 1;
                    self.flow_ws(parent)?;
                    if matches!(self.cur(), Some(b',' | b'}')) {
                        return Err(Bail);
                    }
                    let v = self.flow_node(parent)?;
                    match m.entry(key) {
                        Entry::Vacant(e) => {
                            e.insert(v);
                        }
                        Entry::Occupied(_) => return Err(Bail),
                    }
                    self.flow_ws(parent)?;
                    match self.cur() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Object(m));
                        }
                        _ => return Err(Bail),
                    }
                }
            }
            _ => Err(Bail),
        }
    }

    fn flow_node(&mut self, parent: isize) -> R<Json> {
        match self.cur() {
            Some(b'[' | b'{') => self.flow(parent),
            Some(b'"' | b'\'') => {
                let (s, close) = self.quoted_on_line(self.pos)?;
                self.pos = close;
                Ok(Json::String(s))
            }
            _ => {
                let text = self.flow_plain(false)?;
                resolve_plain(text, self.booleans)
            }
        }
    }

    /// A single-line plain scalar in a flow collection. As a key it ends before `: `.
    fn flow_plain(&mut self, key: bool) -> R<&'a str> {
        let start = self.pos;
        let first = self.cur().ok_or(Bail)?;
        if bad_plain_start(first) || is_dash_entry(&self.b[start..]) {
            return Err(Bail);
        }
        let src: &'a str = self.src;
        let b: &'a [u8] = self.b;
        let mut i = start;
        while let Some(&c) = b.get(i) {
            match c {
                b'\n' | b',' | b'[' | b']' | b'{' | b'}' => break,
                b':' if matches!(b.get(i + 1), None | Some(b' ' | b'\n')) => {
                    if !key {
                        return Err(Bail);
                    }
                    break;
                }
                // `key:{`, `key:[`, `key:,`: serde-saphyr (like go-yaml v2) refuses a `:`
                // right before a flow indicator after a plain scalar, so leave it to it.
                b':' if matches!(b.get(i + 1), Some(b',' | b'[' | b']' | b'{' | b'}')) => {
                    return Err(Bail);
                }
                b'#' if b[i - 1] == b' ' => break,
                _ => i += 1,
            }
        }
        self.pos = i;
        let text = src[start..i].trim_end_matches(' ');
        if text.is_empty() {
            return Err(Bail);
        }
        Ok(text)
    }
}

/// Keys serde-saphyr would treat specially (null-like, merge keys) are left to it.
fn check_key(key: &str) -> R<()> {
    match key {
        "" | "~" | "null" | "Null" | "NULL" | "<<" => Err(Bail),
        _ => Ok(()),
    }
}

/// YAML 1.1 booleans as serde-saphyr reads them without `strict_booleans`.
fn yaml11_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "yes", "y", "on"];
    const FALSE: [&str; 4] = ["false", "no", "n", "off"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| s.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

/// YAML 1.2 booleans as serde-saphyr reads them with `strict_booleans`.
fn yaml12_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Types a plain scalar as serde-saphyr does: booleans, null, unsigned decimal integers
/// decided here; anything number-like beyond that is handed to serde-saphyr itself.
fn resolve_plain(s: &str, booleans: Booleans) -> R<Json> {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(Bail);
    };
    match first {
        b'a'..=b'z' | b'A'..=b'Z' => {
            let boolean = match booleans {
                Booleans::Yaml11 => yaml11_bool(s),
                Booleans::Strict => yaml12_bool(s),
            };
            if let Some(b) = boolean {
                return Ok(Json::Bool(b));
            }
            if matches!(s, "null" | "Null" | "NULL") {
                return Ok(Json::Null);
            }
            Ok(Json::String(s.to_string()))
        }
        b'0'..=b'9' => {
            let plain_int = bytes.iter().all(u8::is_ascii_digit) && (first != b'0' || s.len() == 1);
            match s.parse::<u64>() {
                Ok(n) if plain_int => Ok(Json::from(n)),
                _ => delegate(s, booleans),
            }
        }
        b'-' | b'+' | b'.' => {
            let unsigned = if first == b'.' { s } else { &s[1..] };
            match unsigned.as_bytes().first() {
                Some(b'0'..=b'9' | b'.') => delegate(s, booleans),
                _ if first == b'.' => delegate(s, booleans),
                _ => Ok(Json::String(s.to_string())),
            }
        }
        b'~' if s.len() == 1 => Ok(Json::Null),
        _ => Ok(Json::String(s.to_string())),
    }
}

/// One number-like plain scalar typed by serde-saphyr, alone as a document.
fn delegate(s: &str, booleans: Booleans) -> R<Json> {
    let options = serde_saphyr::options! {
        strict_booleans: booleans == Booleans::Strict,
    };
    match serde_saphyr::from_str_with_options::<Json>(s, options) {
        Ok(v @ (Json::Null | Json::Bool(_) | Json::Number(_) | Json::String(_))) => Ok(v),
        _ => Err(Bail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saphyr(text: &str) -> Option<Json> {
        serde_saphyr::from_str::<Json>(text).ok()
    }

    /// Every accepted text reads exactly as serde-saphyr reads it.
    fn agrees(text: &str) -> bool {
        match parse(text) {
            Some(v) => Some(&v) == saphyr(text).as_ref(),
            None => true,
        }
    }

    #[track_caller]
    fn accepted_and_agrees(text: &str) {
        let fast = parse(text);
        assert!(fast.is_some(), "not accepted: {text:?}");
        assert_eq!(fast, saphyr(text), "differs: {text:?}");
    }

    #[test]
    fn plain_key_colon_before_a_flow_indicator_is_left_to_serde_saphyr() {
        // Found by the `template` fuzz target (crash-flow-colon-before-brace): the fast reader
        // read `privileged:{...}` as a key and a map, where serde-saphyr refuses the text.
        for text in [
            "a: [{privileged:{name: x}}]\n",
            "a: {b:[1]}\n",
            "a: {b:, c: 1}\n",
            "a: {b:}\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        accepted_and_agrees("a: {b: {c: 1}, d: [1]}\n");
    }

    #[test]
    fn control_characters_are_left_to_serde_saphyr() {
        // Found by the `template` fuzz target: the fast reader took a NUL as part of a plain
        // scalar, where serde-saphyr (like go-yaml) rejects the text.
        for text in [
            "\u{fffd}\u{fffd}\0",
            "a: b\u{1}",
            "a: \u{7f}",
            "a: \"\u{9b}\"",
            "a: \u{ffff}",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
            assert!(agrees(text));
        }
        // Found by the `template` fuzz target (crash-bom-inside-document): a BOM inside.
        for text in ["a: b\nc:\n  \u{feff}d: 1\n", "a: \"\u{feff}\"\n"] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        // The printable neighbours stay on the fast path.
        accepted_and_agrees("a: \u{85}x\u{a0}\u{fffd}");
    }

    #[test]
    fn template_shapes_are_accepted_and_match() {
        accepted_and_agrees(
            "\n\nmetadata:\n  labels:\n    a: \"x\"\n  annotations: {\n    istio.io/rev: \"default\",\n    k: 'v''q',\n  }\nspec:\n  initContainers:\n  \n  - name: init\n  \n    args:\n    - istio-iptables\n    - \"-p\"\n    - --domain\n    - $(POD_NAMESPACE).svc\n    resources:\n  \n      limits:\n        cpu: 2000m\n      \n    securityContext:\n      runAsUser: 0\n      privileged: false\n  containers:\n  - name: p\n    env:\n    - name: A\n      value: |\n             {}\n    - name: B\n      value: |-\n        [\n            {\"a\":1}\n        ]\n    # comment\n    - name: C\n      valueFrom:\n        fieldRef:\n          fieldPath: x\n  volumes:\n  - emptyDir:\n    name: w\n  - emptyDir: {}\n    name: d\n",
        );
        accepted_and_agrees("defaultTemplates: [sidecar]\npolicy: enabled\nx:\n  []\n");
        accepted_and_agrees("{ \"holdApplicationUntilProxyStarts\": true }");
        accepted_and_agrees("a:\n- b: |\n    line1\n\n    line2\n  c: 1\n- - x\n  - y\n-\n- ~\n");
    }

    #[test]
    fn scalars_type_like_serde_saphyr() {
        for s in [
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "n",
            "true",
            "False",
            "null",
            "Null",
            "~",
            "0",
            "7",
            "0755",
            "-5",
            "+5",
            "1.5",
            "1e3",
            ".inf",
            "-.inf",
            ".nan",
            ".foo",
            "0x1F",
            "0o17",
            "1_000",
            "18446744073709551616",
            "-x",
            "--log",
            "+",
            "inf",
            "nan",
            "Infinity",
            "2024-01-01",
            "1:20",
            "1.0",
            "15090,15021",
            "a b",
            "\"q\"",
            "'1'",
            "\"\"",
            "''",
            "\"\\u00e9\\n\\\\\"",
            "x #c",
            "x#y",
            "http://a:b",
        ] {
            let doc = format!("k: {s}\nl: [{s}]\n");
            assert!(
                agrees(&doc),
                "{doc:?}: {:?} vs {:?}",
                parse(&doc),
                saphyr(&doc)
            );
        }
    }

    #[test]
    fn outside_the_subset_is_refused() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: >\n  folded\n",
            "a: |2\n   x\n",
            "a: plain\n  continued\n",
            "a: \"multi\n  line\"\n",
            "---\na: 1\n",
            "a: 1\na: 2\n",
            "a:\tb\n",
            "? a\n: b\n",
            "a: b: c\n",
            "",
            "# only a comment\n",
        ] {
            assert!(parse(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn odd_layouts_agree_when_accepted() {
        for text in [
            "a:\n  - 1\n  - 2\nb: x\n",
            "a:\n- 1\nb:\n",
            "- a\n- b: 1\n  c: 2\n",
            "a: {b: [1, 2], c: {d: e}}\n",
            "a: [\n  1,\n  2\n]\n",
            "a: {\n x: 1,\n}\n",
            "a: |\n\n  x\n\n\nb: 1\n",
            "a: |-\n  x\n   y\n  \n",
            "a: |\n  x\n b: 1\n",
            "a: [a b, c:d]\n",
            "a: 'it''s'\n",
            "a: \"x\" # c\n",
            "a:    spaced   \n",
            "  a: 1\n  b: 2\n",
            "'k': v\n\"k2\": v\n",
            "a: [x]: y\n",
        ] {
            assert!(
                agrees(text),
                "{text:?}: {:?} vs {:?}",
                parse(text),
                saphyr(text)
            );
        }
    }

    fn json_strategy() -> impl proptest::strategy::Strategy<Value = Json> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i32>().prop_map(Json::from),
            "[a-zA-Z0-9 :#'\"\\./~|>{}\\[\\],&*!%@-]{0,14}".prop_map(Json::String),
            "(yes|No|on|OFF|y|n|null|~|0755|1e3|-1|\\.inf|0x1F|1_000|1\\.0)".prop_map(Json::String),
            "[a-z]{1,6}(\n[a-z ]{0,6}){1,3}\n?".prop_map(Json::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                proptest::collection::btree_map("[a-z][a-z0-9./-]{0,8}", inner, 0..5)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever Go-style YAML the emitter writes, the reader reads as serde-saphyr does.
        #[test]
        fn emitted_yaml_reads_like_serde_saphyr(v in json_strategy()) {
            let text = crate::render::to_go_yaml(&v);
            if let Some(fast) = parse(&text) {
                proptest::prop_assert_eq!(Some(fast), saphyr(&text), "{}", text);
            }
        }
    }

    /// Every YAML file of Istio's conformance data that the reader accepts reads as
    /// serde-saphyr reads it (templates, values, mesh configs, manifests, goldens).
    #[test]
    fn conformance_files_agree() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/conformance/istio-1.24.6"
        );
        let mut stack = vec![std::path::PathBuf::from(dir)];
        let mut checked = 0;
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "yaml") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&p) else {
                    continue;
                };
                if let Some(v) = parse(&text) {
                    assert_eq!(Some(v), saphyr(&text), "{}", p.display());
                    checked += 1;
                }
            }
        }
        eprintln!("fast YAML reader agreed with serde-saphyr on {checked} files");
    }
}

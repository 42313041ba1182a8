//! The bundle's conveniences for people: `records.csv` (a spreadsheet view) and
//! `report.html` (a self-contained summary). Neither is authoritative; both are made from
//! the same records as `records.jsonl`, in one pass, with bounded memory.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::{Brief, Elided, Manifest, is_oversight};

/// Rows listed per section of the report; the counts are always complete.
const LISTED: usize = 500;

pub const CSV_HEADER: &str = "seq,recorded_at,kind,actor_type,actor_id,actor_name,on_behalf_of,\
     action,resource,decision,reason,oversight,elided,hash\r\n";

/// Person and agent names known at export time, by id (the records hold ids only).
pub type Names = HashMap<String, String>;

fn name_of<'a>(names: &'a Names, id: &str) -> &'a str {
    names.get(id).map_or("", String::as_str)
}

/// One CSV field: quoted when needed, and a leading `= + - @` (a formula to a spreadsheet)
/// neutralised with an apostrophe — agents choose much of this text.
fn csv_field(out: &mut String, v: &str) {
    let formula = v.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = v.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quoted {
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(v);
    }
}

pub fn csv_row(r: &Brief<'_>, hash: &str, names: &Names) -> String {
    let mut out = String::with_capacity(256);
    let seq = r.seq.to_string();
    let fields: [&str; 14] = [
        &seq,
        &r.recorded_at,
        &r.kind,
        &r.actor.kind,
        &r.actor.id,
        name_of(names, &r.actor.id),
        r.on_behalf_of.as_deref().unwrap_or_default(),
        r.action.as_deref().unwrap_or_default(),
        r.resource.as_deref().unwrap_or_default(),
        r.decision.as_deref().unwrap_or_default(),
        r.reason.as_deref().unwrap_or_default(),
        if is_oversight(&r.kind) { "yes" } else { "" },
        "",
        hash,
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, f);
    }
    out.push_str("\r\n");
    out
}

pub fn csv_elided_row(seq: u64, hash: &str, why: Elided) -> String {
    format!("{seq},,,,,,,,,,,,{},{hash}\r\n", why.as_str())
}

/// A listed row of the report.
#[derive(Debug, Clone)]
struct Act {
    seq: u64,
    at: String,
    kind: String,
    actor: String,
    about: String,
}

/// What the report counts and lists, gathered record by record.
#[derive(Debug, Default)]
pub struct Stats {
    outcomes: BTreeMap<String, u64>,
    reasons: BTreeMap<(String, String), u64>,
    kinds: BTreeMap<String, u64>,
    oversight: Vec<Act>,
    oversight_total: u64,
    /// Verifying persons: actor id → acts.
    overseers: BTreeMap<String, u64>,
    violations: Vec<Act>,
    violations_total: u64,
    breakers: Vec<Act>,
    breakers_total: u64,
    /// Runs of records whose bodies retention removed.
    pruned: Vec<(u64, u64)>,
    first_at: Option<String>,
    last_at: String,
}

impl Stats {
    pub fn add(&mut self, r: &Brief<'_>) {
        bump(&mut self.kinds, &r.kind);
        if self.first_at.is_none() {
            self.first_at = Some(r.recorded_at.to_string());
        }
        self.last_at.clear();
        self.last_at.push_str(&r.recorded_at);
        let act = || Act {
            seq: r.seq,
            at: r.recorded_at.to_string(),
            kind: r.kind.to_string(),
            actor: r.actor.id.to_string(),
            about: [&r.action, &r.resource, &r.reason]
                .into_iter()
                .flatten()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(" · "),
        };
        if r.kind == "decision"
            && let Some(d) = &r.decision
        {
            bump(&mut self.outcomes, d);
            let reason = r.reason.as_deref().unwrap_or("-");
            match self.reasons.get_mut(&(d.to_string(), reason.to_string())) {
                Some(n) => *n += 1,
                None => {
                    self.reasons.insert((d.to_string(), reason.to_string()), 1);
                }
            }
        }
        if is_oversight(&r.kind) {
            self.oversight_total += 1;
            bump(&mut self.overseers, &r.actor.id);
            if self.oversight.len() < LISTED {
                self.oversight.push(act());
            }
        }
        if r.kind.starts_with("violation") {
            self.violations_total += 1;
            if self.violations.len() < LISTED {
                self.violations.push(act());
            }
        }
        if r.kind.starts_with("breaker.") || r.moved_breaker() {
            self.breakers_total += 1;
            if self.breakers.len() < LISTED {
                self.breakers.push(act());
            }
        }
    }

    pub fn add_elided(&mut self, seq: u64, why: Elided) {
        if why != Elided::Retention {
            return;
        }
        if let Some((_, end)) = self.pruned.last_mut()
            && *end + 1 == seq
        {
            *end = seq;
        } else if self.pruned.len() < LISTED {
            self.pruned.push((seq, seq));
        }
    }
}

/// Counts one more under `key`, allocating the key only the first time.
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn who(names: &Names, id: &str) -> String {
    match names.get(id) {
        Some(n) if !n.is_empty() => format!("{} <small>({})</small>", esc(n), esc(id)),
        _ => esc(id),
    }
}

fn acts_table(out: &mut String, title: &str, id: &str, acts: &[Act], total: u64, names: &Names) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{} <span class=\"count\" data-count=\"{total}\">{total}</span></h2>",
        esc(title)
    );
    if acts.is_empty() {
        out.push_str("<p>None in this bundle.</p></section>");
        return;
    }
    out.push_str("<table><thead><tr><th>seq</th><th>time (UTC)</th><th>kind</th><th>by</th><th>about</th></tr></thead><tbody>");
    for a in acts {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.seq,
            esc(&a.at),
            esc(&a.kind),
            who(names, &a.actor),
            esc(&a.about)
        );
    }
    out.push_str("</tbody></table>");
    if total > acts.len() as u64 {
        let _ = write!(
            out,
            "<p>The first {} of {total} are listed; records.csv has all.</p>",
            acts.len()
        );
    }
    out.push_str("</section>");
}

/// `report.html`: no scripts, no external resources, every value escaped.
pub fn render(m: &Manifest, s: &Stats, names: &Names) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let system = m
        .scope
        .system
        .as_ref()
        .and_then(|v| v.get("name"))
        .and_then(|v| v.as_str())
        .unwrap_or("(all records of the tenant)");
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>Evidence bundle — {tenant} — {system}</title><style>\
         body{{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}}\
         table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}th,td{{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         th{{background:#eee}}.note{{background:#fff7d6;border:1px solid #d9c36a;padding:.5rem 1rem}}.count{{color:#444}}\
         </style></head><body><h1>Evidence bundle: {system}</h1>\
         <p class=\"note\">A summary for reading. It is not authoritative: <code>records.jsonl</code> and its signatures are the evidence, and <code>charter verify</code> checks them. {disclaimer}</p>",
        tenant = esc(&m.tenant.name),
        system = esc(system),
        disclaimer = esc(&m.disclaimer),
    );
    let _ = write!(
        o,
        "<section id=\"scope\"><h2>Scope</h2><table><tbody>\
         <tr><th>Tenant</th><td>{} ({})</td></tr>\
         <tr><th>AI system</th><td>{}</td></tr>\
         <tr><th>Agents</th><td>{}</td></tr>\
         <tr><th>Period</th><td>{} to {}</td></tr>\
         <tr><th>Purpose</th><td>{} — {}: {}</td></tr>\
         <tr><th>Records</th><td>seq {} to {}</td></tr>\
         <tr><th>Made</th><td>{} by {}</td></tr></tbody></table></section>",
        esc(&m.tenant.name),
        esc(&m.tenant.slug),
        esc(system),
        m.scope
            .agents
            .iter()
            .map(|a| who(names, a))
            .collect::<Vec<_>>()
            .join(", "),
        esc(&m.period.from),
        esc(&m.period.to),
        m.purpose.as_str(),
        m.purpose.article(),
        esc(m.purpose.describe()),
        m.range.from_seq,
        m.range.to_seq,
        esc(&m.created_at),
        who(names, &m.requested_by.id),
    );
    let c = &m.counts;
    let _ = write!(
        o,
        "<section id=\"counts\"><h2>Records</h2><table><tbody>\
         <tr><th>In the range</th><td id=\"count-records\">{}</td></tr>\
         <tr><th>In full (concern the scope)</th><td id=\"count-full\">{}</td></tr>\
         <tr><th>Elided: outside the scope</th><td id=\"count-elided-filter\">{}</td></tr>\
         <tr><th>Elided: body removed by retention</th><td id=\"count-elided-retention\">{}</td></tr>\
         </tbody></table></section>",
        c.records, c.full, c.elided_filter, c.elided_retention
    );
    o.push_str("<section id=\"decisions\"><h2>Decisions by outcome and reason</h2>");
    if s.reasons.is_empty() {
        o.push_str("<p>No decisions in this bundle.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th>outcome</th><th>reason</th><th>count</th></tr></thead><tbody>",
        );
        for ((d, r), n) in &s.reasons {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{n}</td></tr>",
                esc(d),
                esc(r)
            );
        }
        o.push_str("</tbody></table><p>");
        for (d, n) in &s.outcomes {
            let _ = write!(
                o,
                "<span class=\"outcome\" data-outcome=\"{0}\">{0}: {n}</span> ",
                esc(d)
            );
        }
        o.push_str("</p>");
    }
    o.push_str("</section>");
    acts_table(
        &mut o,
        "Human oversight acts (Article 14)",
        "oversight",
        &s.oversight,
        s.oversight_total,
        names,
    );
    if !s.overseers.is_empty() {
        o.push_str("<section id=\"overseers\"><h3>Verifying persons</h3><ul>");
        for (id, n) in &s.overseers {
            let _ = write!(o, "<li>{}: {n} acts</li>", who(names, id));
        }
        o.push_str("</ul></section>");
    }
    acts_table(
        &mut o,
        "Violations",
        "violations",
        &s.violations,
        s.violations_total,
        names,
    );
    acts_table(
        &mut o,
        "Circuit breakers",
        "breakers",
        &s.breakers,
        s.breakers_total,
        names,
    );
    o.push_str("<section id=\"gaps\"><h2>Gaps</h2>");
    if s.pruned.is_empty() {
        o.push_str("<p>No record of the range lost its body to retention.</p>");
    } else {
        o.push_str("<p>Retention removed the bodies of these records (their hashes and signatures remain, so the log still verifies):</p><ul>");
        for (a, b) in &s.pruned {
            let _ = write!(o, "<li>seq {a} to {b}</li>");
        }
        o.push_str("</ul>");
        if s.pruned.len() == LISTED {
            let _ = write!(
                o,
                "<p>The first {LISTED} runs are listed; records.csv has every record.</p>"
            );
        }
    }
    o.push_str("</section><section id=\"kinds\"><h2>Records in full by kind</h2><table><tbody>");
    for (k, n) in &s.kinds {
        let _ = write!(o, "<tr><th>{}</th><td>{n}</td></tr>", esc(k));
    }
    let _ = writeln!(
        o,
        "</tbody></table></section><footer><p>First record in full: {}; last: {}.</p></footer></body></html>",
        esc(s.first_at.as_deref().unwrap_or("-")),
        esc(if s.last_at.is_empty() {
            "-"
        } else {
            &s.last_at
        })
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut s = String::new();
        csv_field(&mut s, "=HYPERLINK(\"x\")");
        assert_eq!(s, "\"'=HYPERLINK(\"\"x\"\")\"");
        let mut s = String::new();
        csv_field(&mut s, "a,b");
        assert_eq!(s, "\"a,b\"");
        assert_eq!(esc("<script>&"), "&lt;script&gt;&amp;");
    }
}

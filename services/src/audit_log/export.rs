//! Exports of the log as JSON Lines or CSV (`broker audit export`, the console's download links),
//! optionally with each record's inclusion proof against the latest signed checkpoint.
//!
//! Records come in seq order, in batches; nothing is held in memory beyond one batch.

use std::io::Write;
use std::str::FromStr;

use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::AuditError;
use super::query::{self, Filter, InclusionProof, RecordView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jsonl" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown export format `{other}`: use `jsonl` or `csv`"
            )),
        }
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl => "application/jsonl",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot write the export: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the export: {0}")]
    Json(#[from] serde_json::Error),
}

/// One exported line.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    record: &'a RecordView,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof: Option<&'a InclusionProof>,
}

const CSV_HEADER: [&str; 19] = [
    "seq",
    "id",
    "time",
    "action",
    "outcome",
    "actor_kind",
    "actor_id",
    "citizen_id",
    "department_id",
    "client_id",
    "purpose",
    "consent_id",
    "request_id",
    "attributes",
    "reasons",
    "leaf_hash",
    "proof_tree_size",
    "proof_path",
    "checkpoint_jws",
];

/// Writes every record matching `filter` to `out`; returns how many.
pub async fn export<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    format: Format,
    proofs: bool,
    out: &mut impl Write,
) -> Result<u64, ExportError> {
    let checkpoint = if proofs {
        query::latest_checkpoint(conn).await?
    } else {
        None
    };
    out.write_all(&header(format, proofs)?)?;
    let mut after = None;
    let mut count = 0u64;
    loop {
        let rows = query::oldest_first(conn, filter, after, super::verify::BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.seq);
        for row in rows.iter().filter(|r| filter.admits(r)) {
            let view = RecordView::of(row);
            let proof = match &checkpoint {
                Some(cp) => query::inclusion(conn, row, cp).await?,
                None => None,
            };
            write_record(out, format, proofs, &view, proof.as_ref())?;
            count += 1;
        }
    }
    out.flush()?;
    Ok(count)
}

/// What comes before the records: the CSV header line (the proof columns only with proofs), or
/// nothing for JSON Lines.
fn header(format: Format, proofs: bool) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Jsonl => Ok(Vec::new()),
        Format::Csv if proofs => csv_line(&CSV_HEADER[..]),
        Format::Csv => csv_line(&CSV_HEADER[..16]),
    }
}

/// One record as one line: a CSV row of the header's columns, or a JSON object (the record view,
/// with `proof` when there is one) and a newline.
fn write_record(
    out: &mut impl Write,
    format: Format,
    proofs: bool,
    view: &RecordView,
    proof: Option<&InclusionProof>,
) -> Result<(), ExportError> {
    match format {
        Format::Csv => {
            let mut fields = vec![
                view.seq.to_string(),
                view.id.clone(),
                view.time.clone(),
                view.action.clone(),
                view.outcome.clone(),
                view.actor_kind.clone(),
                view.actor_id.clone(),
                view.citizen_id.clone().unwrap_or_default(),
                view.department_id.clone().unwrap_or_default(),
                view.client_id.clone().unwrap_or_default(),
                view.purpose.clone().unwrap_or_default(),
                view.consent_id.clone().unwrap_or_default(),
                view.request_id.clone().unwrap_or_default(),
                view.attributes.join(" "),
                view.reasons.join(" "),
                view.leaf_hash.clone(),
            ];
            if proofs {
                match proof {
                    Some(p) => fields.extend([
                        p.checkpoint.tree_size.to_string(),
                        p.path.join(" "),
                        p.checkpoint.jws.clone(),
                    ]),
                    None => fields.extend([String::new(), String::new(), String::new()]),
                }
            }
            out.write_all(&csv_line(&fields)?)?;
        }
        Format::Jsonl => {
            serde_json::to_writer(
                &mut *out,
                &Line {
                    record: view,
                    proof,
                },
            )?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// One CSV line (quoted as needed), with its line ending.
fn csv_line<T: AsRef<[u8]>>(fields: &[T]) -> Result<Vec<u8>, ExportError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(fields)?;
    w.into_inner()
        .map_err(|e| ExportError::Write(std::io::Error::other(e.to_string())))
}

#[cfg(test)]
mod proptests;

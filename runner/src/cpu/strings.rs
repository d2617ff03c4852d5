//! Operators on string tensors.

use super::broadcast::{broadcast_shapes, broadcast_strides, for_each_index};
use super::{req, Ctx};
use crate::error::{Error, Result};
use crate::model::Node;
use crate::tensor::{numel, Data, Tensor};

fn strings<'a>(op: &str, t: &'a Tensor) -> Result<&'a [String]> {
    match &t.data {
        Data::String(v) => Ok(v),
        d => Err(Error::op(
            op,
            format!("expected strings, got {:?}", d.dtype()),
        )),
    }
}

/// Applies `f` to every broadcast pair of `a` and `b`.
fn broadcast2<T>(
    ctx: &Ctx,
    op: &str,
    a: &Tensor,
    b: &Tensor,
    elem: usize,
    f: impl Fn(&str, &str) -> T,
) -> Result<(Vec<T>, Vec<usize>)> {
    let (p, q) = (strings(op, a)?, strings(op, b)?);
    let out = broadcast_shapes(op, &[&a.shape, &b.shape])?;
    ctx.limits.check_shape(&out, elem)?;
    let (sa, sb) = (
        broadcast_strides(&a.shape, &out),
        broadcast_strides(&b.shape, &out),
    );
    let mut res = Vec::with_capacity(numel(&out));
    for_each_index(&out, [&sa, &sb], |[i, j]| res.push(f(&p[i], &q[j])));
    Ok((res, out))
}

/// `Equal` on two string tensors (other types use the numeric kernel).
pub fn equal(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let (a, b) = (req(node, ins, 0)?, req(node, ins, 1)?);
    let (v, shape) = broadcast2(ctx, "Equal", a, b, 1, |x, y| x == y)?;
    Ok(vec![Tensor::new(shape, Data::Bool(v))?])
}

pub fn string_concat(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let (a, b) = (req(node, ins, 0)?, req(node, ins, 1)?);
    // Result text is at most the inputs' text repeated by broadcasting;
    // bound it before building it.
    let (len_a, len_b) = (
        strings("StringConcat", a)?
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0),
        strings("StringConcat", b)?
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0),
    );
    let out = broadcast_shapes("StringConcat", &[&a.shape, &b.shape])?;
    let per = std::mem::size_of::<String>().saturating_add(len_a.saturating_add(len_b));
    ctx.limits.check_shape(&out, per)?;
    let (v, shape) = broadcast2(ctx, "StringConcat", a, b, per, |x, y| {
        let mut s = String::with_capacity(x.len() + y.len());
        s.push_str(x);
        s.push_str(y);
        s
    })?;
    Ok(vec![Tensor::new(shape, Data::String(v))?])
}

/// Python's `str.split(sep, maxsplit)`: `sep` empty splits on runs of
/// whitespace and drops empty pieces.
fn split<'a>(s: &'a str, sep: &str, max: Option<usize>) -> Vec<&'a str> {
    if !sep.is_empty() {
        return match max {
            Some(m) => s.splitn(m.saturating_add(1), sep).collect(),
            None => s.split(sep).collect(),
        };
    }
    let mut parts = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if max.is_some_and(|m| parts.len() == m) {
            parts.push(rest);
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = rest[i..].trim_start();
            }
            None => {
                parts.push(rest);
                break;
            }
        }
    }
    parts
}

pub fn string_split(ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let op = "StringSplit";
    let x = req(node, ins, 0)?;
    let v = strings(op, x)?;
    let sep = node.attr_s("delimiter", "")?;
    let max = match node.attr_i("maxsplit", -1)? {
        m if m < 0 => None,
        m => Some(m as usize),
    };
    let parts: Vec<Vec<&str>> = v.iter().map(|s| split(s, &sep, max)).collect();
    let width = parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut shape = x.shape.clone();
    shape.push(width);
    // Every piece is a substring of its input: only the padding is new.
    ctx.limits
        .check_shape(&shape, std::mem::size_of::<String>())?;
    let mut out = Vec::with_capacity(numel(&shape));
    let mut counts = Vec::with_capacity(parts.len());
    for p in &parts {
        counts.push(p.len() as i64);
        out.extend(p.iter().map(|s| s.to_string()));
        out.extend(std::iter::repeat_n(String::new(), width - p.len()));
    }
    Ok(vec![
        Tensor::new(shape, Data::String(out))?,
        Tensor::new(x.shape.clone(), Data::I64(counts))?,
    ])
}

pub fn string_normalizer(_ctx: &Ctx, node: &Node, ins: &[Option<&Tensor>]) -> Result<Vec<Tensor>> {
    let op = "StringNormalizer";
    let x = req(node, ins, 0)?;
    let v = strings(op, x)?;
    let two_dim = match x.shape.as_slice() {
        [_] => false,
        [1, _] => true,
        s => {
            return Err(Error::op(
                op,
                format!("input must be [C] or [1, C], got {s:?}"),
            ))
        }
    };
    let action = node.attr_s("case_change_action", "NONE")?;
    let sensitive = node.attr_i("is_case_sensitive", 0)? != 0;
    let fold = |s: &str| {
        if sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let stop: std::collections::HashSet<String> = node
        .attr_strings("stopwords")?
        .unwrap_or_default()
        .iter()
        .map(|s| fold(s))
        .collect();
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if stop.contains(&fold(s)) {
            continue;
        }
        out.push(match action.as_str() {
            "NONE" => s.clone(),
            "LOWER" => s.to_lowercase(),
            "UPPER" => s.to_uppercase(),
            a => return Err(Error::op(op, format!("unknown case_change_action `{a}`"))),
        });
    }
    if out.is_empty() {
        out.push(String::new());
    }
    let shape = if two_dim {
        vec![1, out.len()]
    } else {
        vec![out.len()]
    };
    Ok(vec![Tensor::new(shape, Data::String(out))?])
}

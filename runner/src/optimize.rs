//! Graph optimisation passes applied by [`Model::optimize`].

use crate::error::Result;
use crate::infer::infer;
use crate::model::{Attr, Model, Node};
use crate::tensor::Tensor;

/// Largest constant (bytes) folding may materialise; bigger results stay
/// computed at run time so folding never inflates a model's memory.
const FOLD_BYTES: usize = 1 << 24;

/// What [`Model::optimize`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptimizeReport {
    /// Nodes replaced by constants.
    pub folded: usize,
    /// Conv+BatchNormalization pairs merged into one Conv.
    pub conv_bn: usize,
    /// LayerNorm, GELU and MatMul+bias patterns fused.
    pub patterns: usize,
    /// Activations (Relu, Clip, LeakyRelu) folded into the Conv before them.
    pub conv_act: usize,
}

impl Model {
    /// Folds constant subgraphs (including shape arithmetic on statically
    /// shaped inputs), merges Conv+BatchNormalization and fuses exporter
    /// patterns (see [`Model::fuse_patterns`]).
    pub fn optimize(&mut self) -> Result<OptimizeReport> {
        let mut report = OptimizeReport {
            folded: fold_constants(self)?,
            ..Default::default()
        };
        report.conv_bn = fuse_conv_bn(self)?;
        report.patterns = self.fuse_patterns();
        report.conv_act = fuse_conv_activation(self);
        self.renew_id();
        Ok(report)
    }
}

fn fold_constants(model: &mut Model) -> Result<usize> {
    let inf = infer(model)?;
    let g = &mut model.graph;
    let before = g.nodes.len();
    let mut keep = Vec::with_capacity(before);
    for node in std::mem::take(&mut g.nodes) {
        let vals: Option<Vec<(usize, &Tensor)>> = node
            .outputs
            .iter()
            .flatten()
            .map(|id| inf.values[*id].as_ref().map(|t| (*id, t)))
            .collect();
        match vals {
            Some(v)
                if !v.is_empty()
                    && v.iter()
                        .all(|(_, t)| t.len() * t.dtype().size() <= FOLD_BYTES) =>
            {
                for (id, t) in v {
                    g.consts[id] = Some(t.clone());
                }
            }
            _ => keep.push(node),
        }
    }
    g.nodes = keep;
    Ok(before - g.nodes.len())
}

/// Conv(x, W, b) -> BatchNormalization(scale, B, mean, var) becomes
/// Conv(x, W', b') when all parameters are constants and the Conv output
/// feeds only the BatchNormalization.
fn fuse_conv_bn(model: &mut Model) -> Result<usize> {
    let g = &mut model.graph;
    let mut fused = 0;
    let mut i = 0;
    while i < g.nodes.len() {
        let conv_out = match (&g.nodes[i].op_type[..], g.nodes[i].outputs.first()) {
            ("Conv", Some(Some(o))) if g.nodes[i].domain.is_empty() => *o,
            _ => {
                i += 1;
                continue;
            }
        };
        let users: Vec<usize> = (0..g.nodes.len())
            .filter(|&j| g.nodes[j].inputs.contains(&Some(conv_out)))
            .collect();
        let is_output = g.outputs.iter().any(|(id, _)| *id == conv_out);
        let bn = match users.as_slice() {
            [j] if !is_output
                && g.nodes[*j].op_type == "BatchNormalization"
                && g.nodes[*j].outputs.iter().skip(1).all(Option::is_none) =>
            {
                *j
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let c = |k: usize, n: usize| {
            g.nodes[n]
                .inputs
                .get(k)
                .copied()
                .flatten()
                .and_then(|id| g.consts[id].clone())
        };
        let (Some(w), Some(sc), Some(bb), Some(mean), Some(var)) =
            (c(1, i), c(1, bn), c(2, bn), c(3, bn), c(4, bn))
        else {
            i += 1;
            continue;
        };
        let eps = g.nodes[bn].attr_f("epsilon", 1e-5)?;
        let (Ok(wv), Ok(scv), Ok(bbv), Ok(mv), Ok(vv)) = (
            w.f32s("Conv"),
            sc.f32s("BN"),
            bb.f32s("BN"),
            mean.f32s("BN"),
            var.f32s("BN"),
        ) else {
            i += 1;
            continue;
        };
        let m = w.shape.first().copied().unwrap_or(0);
        if [scv.len(), bbv.len(), mv.len(), vv.len()]
            .iter()
            .any(|&l| l != m)
            || m == 0
            || g.nodes[bn].attr_i("training_mode", 0)? != 0
        {
            i += 1;
            continue;
        }
        let bias: Vec<f32> = match g.nodes[i].inputs.get(2).copied().flatten() {
            Some(id) => match g.consts[id]
                .as_ref()
                .map(|t| t.f32s("Conv").map(|v| v.to_vec()))
            {
                Some(Ok(v)) if v.len() == m => v,
                _ => {
                    i += 1;
                    continue;
                }
            },
            None => vec![0.0; m],
        };
        let per = wv.len() / m;
        let a: Vec<f32> = (0..m).map(|k| scv[k] / (vv[k] + eps).sqrt()).collect();
        let nw: Vec<f32> = wv
            .iter()
            .enumerate()
            .map(|(j, &x)| x * a[j / per])
            .collect();
        let nb: Vec<f32> = (0..m).map(|k| (bias[k] - mv[k]) * a[k] + bbv[k]).collect();
        // New constant values get fresh ids so shared weights stay intact.
        let wid = g.values.len();
        g.values.push(format!("{}::fused_w", g.nodes[i].name));
        g.consts.push(Some(Tensor::from_f32(w.shape.clone(), nw)?));
        let bid = g.values.len();
        g.values.push(format!("{}::fused_b", g.nodes[i].name));
        g.consts.push(Some(Tensor::from_f32(vec![m], nb)?));
        let bn_out = g.nodes[bn].outputs.first().copied().flatten();
        let conv = &mut g.nodes[i];
        conv.inputs.truncate(1);
        conv.inputs.extend([Some(wid), Some(bid)]);
        conv.outputs = vec![bn_out];
        g.nodes.remove(bn);
        fused += 1;
        i += 1;
    }
    Ok(fused)
}

/// Conv followed by Relu, Clip (constant bounds) or LeakyRelu becomes
/// `bazaar::Conv` with an `activation` attribute (plus `activation_min`/
/// `activation_max` or `activation_alpha`), applied as the output is
/// written. The Conv output must have no other reader.
// Indexing: the loop rewrites other nodes (the Conv) while it walks them.
#[allow(clippy::needless_range_loop)]
fn fuse_conv_activation(model: &mut Model) -> usize {
    let opset = model.opset;
    let g = &mut model.graph;
    let ix = Index::new(g);
    let mut remove = vec![false; g.nodes.len()];
    let mut fused = 0;
    for a in 0..g.nodes.len() {
        let act = &g.nodes[a];
        if !act.domain.is_empty() {
            continue;
        }
        let Some(conv) = single(g, &ix, node_in(g, a, 0), "Conv", 1) else {
            continue;
        };
        let attrs: Vec<(String, Attr)> = match act.op_type.as_str() {
            "Relu" => vec![],
            "LeakyRelu" => match act.attr_f("alpha", 0.01) {
                Ok(al) => vec![("activation_alpha".into(), Attr::Float(al))],
                Err(_) => continue,
            },
            "Clip" => {
                let (lo, hi) = if opset < 11 {
                    match (act.attr_f("min", f32::MIN), act.attr_f("max", f32::MAX)) {
                        (Ok(lo), Ok(hi)) => (lo, hi),
                        _ => continue,
                    }
                } else {
                    let bound = |k: usize, d: f32| match node_in(g, a, k) {
                        None => Some(d),
                        Some(v) => scalar(g, Some(v)),
                    };
                    match (bound(1, f32::MIN), bound(2, f32::MAX)) {
                        (Some(lo), Some(hi)) => (lo, hi),
                        _ => continue,
                    }
                };
                vec![
                    ("activation_min".into(), Attr::Float(lo)),
                    ("activation_max".into(), Attr::Float(hi)),
                ]
            }
            _ => continue,
        };
        if act.outputs.len() != 1 {
            continue;
        }
        let name = act.op_type.clone();
        let out = out0(g, a);
        let c = &mut g.nodes[conv];
        c.domain = FUSED_DOMAIN.into();
        c.attrs.push(("activation".into(), Attr::String(name)));
        c.attrs.extend(attrs);
        c.outputs = vec![out];
        remove[a] = true;
        fused += 1;
    }
    let mut k = 0;
    g.nodes.retain(|_| {
        k += 1;
        !remove[k - 1]
    });
    fused
}

/// Domain of Bazaar's fused operators (not part of ONNX).
pub const FUSED_DOMAIN: &str = "bazaar";

/// Producer/consumer index used by the pattern fusions.
struct Index {
    producer: Vec<Option<usize>>,
    uses: Vec<usize>,
}

impl Index {
    fn new(g: &crate::model::Graph) -> Self {
        let mut producer = vec![None; g.values.len()];
        let mut uses = vec![0; g.values.len()];
        for (i, n) in g.nodes.iter().enumerate() {
            for o in n.outputs.iter().flatten() {
                producer[*o] = Some(i);
            }
            for v in n.inputs.iter().flatten() {
                uses[*v] += 1;
            }
        }
        for (o, _) in &g.outputs {
            uses[*o] += 1;
        }
        Index { producer, uses }
    }
}

fn scalar(g: &crate::model::Graph, v: Option<usize>) -> Option<f32> {
    let t = g.consts[v?].as_ref()?;
    match (&t.data, t.len()) {
        (crate::tensor::Data::F32(d), 1) => Some(d[0]),
        _ => None,
    }
}

fn node_in(g: &crate::model::Graph, n: usize, k: usize) -> Option<usize> {
    g.nodes[n].inputs.get(k).copied().flatten()
}

fn out0(g: &crate::model::Graph, n: usize) -> Option<usize> {
    g.nodes[n].outputs.first().copied().flatten()
}

/// The producer of `v` if it is a default-domain `op` whose output has
/// exactly `uses` readers.
fn single(
    g: &crate::model::Graph,
    ix: &Index,
    v: Option<usize>,
    op: &str,
    uses: usize,
) -> Option<usize> {
    let v = v?;
    let p = ix.producer[v]?;
    (g.nodes[p].op_type == op && g.nodes[p].domain.is_empty() && ix.uses[v] == uses).then_some(p)
}

/// For a binary node, which input (0 or 1) is produced by `op`.
fn operand(
    g: &crate::model::Graph,
    ix: &Index,
    n: usize,
    op: &str,
    uses: usize,
) -> Option<(usize, usize)> {
    (0..2).find_map(|k| single(g, ix, node_in(g, n, k), op, uses).map(|p| (p, k)))
}

/// Last-axis reduction (`axes` = [-1] or [rank-1]) with keepdims.
fn is_last_axis_mean(g: &crate::model::Graph, n: usize) -> bool {
    let node = &g.nodes[n];
    let axes = match node.attr_ints("axes") {
        Ok(Some(a)) => a,
        _ => match node_in(g, n, 1)
            .and_then(|v| g.consts[v].as_ref())
            .map(|t| t.to_i64s("ReduceMean"))
        {
            Some(Ok(a)) => a,
            _ => return false,
        },
    };
    axes == [-1] && node.attr_i("keepdims", 1).unwrap_or(1) == 1
}

impl Model {
    /// Fuses exporter patterns: decomposed LayerNorm and erf-GELU into
    /// their ONNX operators, and MatMul followed by a bias Add into
    /// `bazaar::MatMulAdd`. Returns the number of rewrites.
    pub fn fuse_patterns(&mut self) -> usize {
        let mut total = 0;
        loop {
            let n = self.fuse_once();
            if n == 0 {
                self.renew_id();
                return total;
            }
            total += n;
        }
    }

    fn fuse_once(&mut self) -> usize {
        let g = &mut self.graph;
        let ix = Index::new(g);
        let mut remove = vec![false; g.nodes.len()];
        let mut replace: Vec<(usize, Node)> = Vec::new();
        let taken = |r: &[bool], ns: &[usize]| ns.iter().any(|&n| r[n]);
        for i in 0..g.nodes.len() {
            if !g.nodes[i].domain.is_empty() || remove[i] {
                continue;
            }
            match g.nodes[i].op_type.as_str() {
                // y = Add(Mul(Div(d, Sqrt(Add(ReduceMean(Pow(d, 2)), eps))), gamma), beta)
                // with d = Sub(x, ReduceMean(x)).
                "Add" => {
                    let Some((mul, mk)) = operand(g, &ix, i, "Mul", 1) else {
                        continue;
                    };
                    let beta = node_in(g, i, 1 - mk);
                    let Some((div, dk)) = operand(g, &ix, mul, "Div", 1) else {
                        // Not a LayerNorm; maybe MatMul + bias.
                        continue;
                    };
                    let gamma = node_in(g, mul, 1 - dk);
                    if dk != 0 {
                        continue;
                    }
                    let Some(sub) = single(g, &ix, node_in(g, div, 0), "Sub", 2) else {
                        continue;
                    };
                    let Some(sqrt) = single(g, &ix, node_in(g, div, 1), "Sqrt", 1) else {
                        continue;
                    };
                    let Some(add_eps) = single(g, &ix, node_in(g, sqrt, 0), "Add", 1) else {
                        continue;
                    };
                    let Some(eps) = scalar(g, node_in(g, add_eps, 1)) else {
                        continue;
                    };
                    let Some(mean2) = single(g, &ix, node_in(g, add_eps, 0), "ReduceMean", 1)
                    else {
                        continue;
                    };
                    let Some(pow) = single(g, &ix, node_in(g, mean2, 0), "Pow", 1) else {
                        continue;
                    };
                    let x = node_in(g, sub, 0);
                    let Some(mean1) = single(g, &ix, node_in(g, sub, 1), "ReduceMean", 1) else {
                        continue;
                    };
                    let ok = scalar(g, node_in(g, pow, 1)) == Some(2.0)
                        && node_in(g, pow, 0) == out0(g, sub)
                        && node_in(g, mean1, 0) == x
                        && is_last_axis_mean(g, mean1)
                        && is_last_axis_mean(g, mean2)
                        && gamma.is_some_and(|v| g.consts[v].is_some())
                        && beta.is_some_and(|v| g.consts[v].is_some());
                    let group = [i, mul, div, sub, sqrt, add_eps, mean2, pow, mean1];
                    if !ok || taken(&remove, &group) {
                        continue;
                    }
                    let node = Node {
                        name: format!("{}::layernorm", g.nodes[i].name),
                        op_type: "LayerNormalization".into(),
                        domain: String::new(),
                        inputs: vec![x, gamma, beta],
                        outputs: vec![out0(g, i)],
                        attrs: vec![
                            ("axis".into(), Attr::Int(-1)),
                            ("epsilon".into(), Attr::Float(eps)),
                        ],
                    };
                    group.iter().for_each(|&n| remove[n] = true);
                    replace.push((i, node));
                }
                // y = Mul(Mul(x, Add(Erf(Div(x, sqrt2)), 1)), 0.5)
                "Mul" => {
                    let Some(half_k) = (0..2).find(|&k| scalar(g, node_in(g, i, k)) == Some(0.5))
                    else {
                        continue;
                    };
                    let Some(inner) = single(g, &ix, node_in(g, i, 1 - half_k), "Mul", 1) else {
                        continue;
                    };
                    let Some((add, ak)) = operand(g, &ix, inner, "Add", 1) else {
                        continue;
                    };
                    let x = node_in(g, inner, 1 - ak);
                    let Some((erf, ek)) = operand(g, &ix, add, "Erf", 1) else {
                        continue;
                    };
                    if scalar(g, node_in(g, add, 1 - ek)) != Some(1.0) {
                        continue;
                    }
                    let scaled = node_in(g, erf, 0);
                    let (div_or_mul, ok) = if let Some(d) = single(g, &ix, scaled, "Div", 1) {
                        (
                            d,
                            scalar(g, node_in(g, d, 1))
                                .is_some_and(|c| (c - std::f32::consts::SQRT_2).abs() < 1e-4),
                        )
                    } else if let Some(m) = single(g, &ix, scaled, "Mul", 1) {
                        (
                            m,
                            scalar(g, node_in(g, m, 1)).is_some_and(|c| {
                                (c - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4
                            }),
                        )
                    } else {
                        continue;
                    };
                    let group = [i, inner, add, erf, div_or_mul];
                    if !ok || node_in(g, div_or_mul, 0) != x || taken(&remove, &group) {
                        continue;
                    }
                    let node = Node {
                        name: format!("{}::gelu", g.nodes[i].name),
                        op_type: "Gelu".into(),
                        domain: String::new(),
                        inputs: vec![x],
                        outputs: vec![out0(g, i)],
                        attrs: vec![],
                    };
                    group.iter().for_each(|&n| remove[n] = true);
                    replace.push((i, node));
                }
                _ => {}
            }
        }
        // MatMul(A, W) + b with constant W [K, N] and b [N].
        for i in 0..g.nodes.len() {
            if remove[i] || g.nodes[i].op_type != "Add" || !g.nodes[i].domain.is_empty() {
                continue;
            }
            let Some((mm, mk)) = operand(g, &ix, i, "MatMul", 1) else {
                continue;
            };
            if remove[mm] {
                continue;
            }
            let bias = node_in(g, i, 1 - mk);
            let w = node_in(g, mm, 1).and_then(|v| g.consts[v].as_ref());
            let b = bias.and_then(|v| g.consts[v].as_ref());
            let fits = matches!((w, b), (Some(w), Some(b)) if w.rank() == 2 && b.rank() == 1
                && b.shape[0] == w.shape[1] && w.dtype() == crate::tensor::DataType::F32
                && b.dtype() == crate::tensor::DataType::F32);
            if !fits {
                continue;
            }
            let node = Node {
                name: format!("{}::matmul_add", g.nodes[i].name),
                op_type: "MatMulAdd".into(),
                domain: FUSED_DOMAIN.into(),
                inputs: vec![node_in(g, mm, 0), node_in(g, mm, 1), bias],
                outputs: vec![out0(g, i)],
                attrs: vec![],
            };
            remove[mm] = true;
            remove[i] = true;
            replace.push((i, node));
        }
        let count = replace.len();
        // The fused node takes the place of the pattern's final node, which
        // comes after all its inputs' producers: topological order holds.
        let mut replacements: std::collections::HashMap<usize, Node> =
            replace.into_iter().collect();
        let old = std::mem::take(&mut g.nodes);
        for (i, n) in old.into_iter().enumerate() {
            if let Some(r) = replacements.remove(&i) {
                g.nodes.push(r);
            } else if !remove[i] {
                g.nodes.push(n);
            }
        }
        count
    }
}

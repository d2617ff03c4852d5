//! Graph optimisation passes applied by [`Model::optimize`].

use crate::error::Result;
use crate::infer::infer;
use crate::model::Model;
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
}

impl Model {
    /// Folds constant subgraphs (including shape arithmetic on statically
    /// shaped inputs) and merges Conv+BatchNormalization.
    pub fn optimize(&mut self) -> Result<OptimizeReport> {
        let mut report = OptimizeReport {
            folded: fold_constants(self)?,
            ..Default::default()
        };
        report.conv_bn = fuse_conv_bn(self)?;
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

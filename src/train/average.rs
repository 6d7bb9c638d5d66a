//! Weight averaging of checkpoints of one training run ("model soup", as in stochastic weight
//! averaging): the element-wise mean of every float tensor, BatchNorm running statistics
//! included. Checkpoints that share a trajectory (one resumed from the other) sit in one basin
//! of the loss, and their mean usually generalises and calibrates better than either end
//! point, at no inference cost.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};

use crate::error::{OcrError, Result};
use crate::recognize::crnn::{Crnn, CrnnConfig};

/// The burnpack bytes of the weighted mean of `checkpoints` (burnpack bytes, one architecture),
/// each given with its non-negative weight; the weights are normalised to sum to one.
pub fn average_weights(arch: &CrnnConfig, checkpoints: &[(Vec<u8>, f32)]) -> Result<Vec<u8>> {
    let total: f32 = checkpoints.iter().map(|(_, w)| *w).sum();
    if checkpoints.is_empty() || checkpoints.iter().any(|(_, w)| *w < 0.0) || total <= 0.0 {
        return Err(OcrError::BadParameter {
            name: "weights".into(),
            detail: "averaging needs at least one checkpoint and non-negative weights with a positive sum".into(),
        });
    }
    let device = Device::flex();
    let mut others = Vec::with_capacity(checkpoints.len() - 1);
    for (bytes, w) in &checkpoints[1..] {
        let mut collect = Collect {
            tensors: Vec::new(),
        };
        load(arch, bytes, &device)?.visit(&mut collect);
        others.push((collect.tensors, *w / total));
    }
    let first = load(arch, &checkpoints[0].0, &device)?;
    let mut mix = Mix {
        own_weight: checkpoints[0].1 / total,
        others: &others,
        next: 0,
    };
    let averaged = first.map(&mut mix);
    averaged
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| OcrError::Model(format!("serialising averaged weights: {e:?}")))
}

fn load(arch: &CrnnConfig, bytes: &[u8], device: &Device) -> Result<Crnn> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| OcrError::Model(format!("cannot read weights: {e:?}")))?;
    arch.init(device)
        .try_load_record(record)
        .map_err(|e| OcrError::Model(format!("weights do not fit the architecture: {e:?}")))
}

/// Collects every float tensor of a module in visiting order.
struct Collect {
    tensors: Vec<TensorData>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.tensors.push(param.val().into_data());
    }
}

/// Replaces each float tensor, in visiting order, by the weighted sum with the collected ones.
struct Mix<'a> {
    own_weight: f32,
    others: &'a [(Vec<TensorData>, f32)],
    next: usize,
}

impl ModuleMapper for Mix<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let i = self.next;
        self.next += 1;
        let (own_weight, others) = (self.own_weight, self.others);
        param.map(|t| {
            let device = t.device();
            others.iter().fold(t * own_weight, |sum, (tensors, w)| {
                sum + Tensor::<D>::from_data(tensors[i].clone(), &device) * *w
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights_of(model: &Crnn) -> Vec<f32> {
        let mut c = Collect {
            tensors: Vec::new(),
        };
        model.visit(&mut c);
        c.tensors
            .into_iter()
            .flat_map(|d| d.iter::<f32>().collect::<Vec<_>>())
            .collect()
    }

    fn bytes_of(model: &Crnn) -> Vec<u8> {
        model.clone().into_record().into_bytes().unwrap().to_vec()
    }

    #[test]
    fn the_average_is_the_weighted_mean_of_every_tensor() {
        let arch = CrnnConfig::new(10);
        let device = Device::flex();
        let a = arch.init(&device);
        let b = arch.init(&device);
        let out = average_weights(&arch, &[(bytes_of(&a), 3.0), (bytes_of(&b), 1.0)]).unwrap();
        let avg = weights_of(&load(&arch, &out, &device).unwrap());
        let (wa, wb) = (weights_of(&a), weights_of(&b));
        assert_eq!(avg.len(), wa.len());
        assert!(wa.iter().zip(&wb).any(|(x, y)| (x - y).abs() > 1e-3));
        for ((m, x), y) in avg.iter().zip(&wa).zip(&wb) {
            assert!((m - (0.75 * x + 0.25 * y)).abs() < 1e-5, "{m} vs {x} {y}");
        }
    }

    #[test]
    fn bad_weights_are_refused() {
        let arch = CrnnConfig::new(10);
        let a = bytes_of(&arch.init(&Device::flex()));
        assert!(average_weights(&arch, &[]).is_err());
        assert!(average_weights(&arch, &[(a.clone(), 0.0)]).is_err());
        assert!(average_weights(&arch, &[(a, -1.0)]).is_err());
    }
}

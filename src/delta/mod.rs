//! Delta compression: applying fossil deltas (the only delta type Centrifugo has).

mod fossil;

pub(crate) use fossil::apply;

//! Functional layers: each takes its parameters explicitly (a slice of variables in the
//! `Params` store's order), so an algorithm can run a network with adapted "fast" weights
//! without copying modules.

pub mod backbone;
pub mod bert;
pub mod conv4;
pub mod gru;
pub mod init;
pub mod linear;
pub mod lstm;
pub mod mlp;

pub use backbone::{Backbone, BackboneKind, BackboneSpec};
pub use bert::{Bert, BertBatch, BertConfig};
pub use conv4::{Conv4, Conv4Config};
pub use gru::GruCell;
pub use init::Init;
pub use linear::Linear;
pub use lstm::LstmCell;
pub use mlp::{Activation, Mlp};

//! Entry points for the fuzz targets (`fuzzing`) and the robustness tests of the
//! parsers (`robustness`).

#[doc(hidden)]
pub mod bench;
#[doc(hidden)]
pub mod fuzzing;
mod robustness;

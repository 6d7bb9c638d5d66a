//! Line preparation: from a line's box on a page to the fixed-height image the recogniser
//! reads. Finding the ink inside the box ([`ink_box`]), measuring a slanted line's slope
//! ([`skew`]), framing and resampling ([`normalize`]) and the line's other views ([`views`]).
//!
//! This room sits below everything that handles lines: preprocessing cuts page lines with it,
//! the recogniser and training read what it makes, and the GPU kernels are checked against it.
//! It imports nothing of the pipeline but [`crate::geometry`].

pub mod ink_box;
pub mod normalize;
pub mod skew;
pub mod views;

pub use normalize::{
    LINE_HEIGHT, LineImage, WIDTH_MULTIPLE, normalize_line, normalize_line_with_views,
    normalize_page_line,
};

//! Notebooks: `.ipynb` investigations run headless in one signed session, their outputs written
//! back in nbformat 4. Like the shell, this is a front end of the engine.

pub mod format;
pub mod kernel;
pub mod run;

pub use format::Notebook;
pub use run::{Outcome, execute};

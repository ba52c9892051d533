//! Uploads and downloads of files and directories (to be built).

// Placeholder: implemented on its own branch (issue 10); the header is the seam.

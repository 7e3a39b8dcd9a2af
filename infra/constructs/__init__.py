"""One construct per capability, named like its handler."""

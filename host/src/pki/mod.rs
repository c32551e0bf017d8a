//! Keys, CSRs and certificates on the host side. Private keys never leave this module except as handles.

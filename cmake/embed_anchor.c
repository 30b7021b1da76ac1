/* embed_anchor.c - keeps libsc_embed non-empty before any file is embedded. */
const int sc_embed_anchor = 1;

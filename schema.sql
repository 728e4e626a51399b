-- ksymtree index. One file per kernel tree; rebuilt from scratch by `ksymtree index` into a temporary
-- file that is renamed over the old one, so readers never see a half-written index.
-- Addresses are TEXT of 16 lower-case hex digits: 64-bit kernel addresses do not fit SQLite's signed
-- INTEGER unchanged, and fixed-width hex sorts in address order.
PRAGMA user_version = 6;

-- Run parameters: schema, tool version, inputs, when it was built.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per vmlinux or module found in the tree (also those that could not be read).
CREATE TABLE objects (
  id              INTEGER PRIMARY KEY,
  path            TEXT NOT NULL UNIQUE,      -- identity: the installed (or given) path
  kind            TEXT NOT NULL CHECK (kind IN ('vmlinux', 'module')),
  status          TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'failed')),
  module_name     TEXT,                      -- .modinfo name=, else file name with '-' -> '_'
  vermagic        TEXT,
  depends         TEXT,
  build_id        TEXT,                      -- GNU build-id, hex
  elf_class       INTEGER,                   -- 32 or 64
  endian          TEXT,                      -- 'little' or 'big'
  machine         INTEGER,                   -- e_machine
  elf_type        INTEGER,                   -- e_type (1 REL, 2 EXEC, 3 DYN)
  compression     TEXT NOT NULL,             -- none, gzip, xz, zstd; vmlinuz-<gzip|xz|zstd|lz4|lzma|bzip2> for a boot image
  signed          INTEGER NOT NULL DEFAULT 0,-- a module signature is appended
  debug_path      TEXT,                      -- where DWARF is read: the object itself, its paired debug copy, or the
                                             -- debug file a debuginfod server gave (in its cache; pairing 'build-id')
  debug_pairing   TEXT,                      -- 'self', 'build-id', 'path' or NULL (no DWARF found)
  size            INTEGER NOT NULL,
  mtime_ms        INTEGER NOT NULL,
  kallsyms_source TEXT,                      -- 'module-loader' rules, 'vmlinux-table' (decoded), or 'nm-rules' (emulation)
  symbol_count    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sections (
  object_id INTEGER NOT NULL REFERENCES objects(id),
  idx       INTEGER NOT NULL,
  name      TEXT NOT NULL,
  type      INTEGER NOT NULL,
  flags     INTEGER NOT NULL,
  addr      TEXT NOT NULL,
  size      INTEGER NOT NULL,
  PRIMARY KEY (object_id, idx)
) WITHOUT ROWID;

-- Every .symtab entry (index 0 included, as the table has it). A vmlinux without .symtab (a vmlinuz's payload)
-- has its decoded kallsyms entries here instead, entry pos as idx pos + 1: type and bind from the letter, size the
-- distance to the next higher address in its table (the size the kernel prints with %pS).
CREATE TABLE symbols (
  object_id  INTEGER NOT NULL REFERENCES objects(id),
  idx        INTEGER NOT NULL,               -- index in .symtab
  name       TEXT NOT NULL,
  value      TEXT NOT NULL,                  -- st_value, 16 hex digits
  size       INTEGER NOT NULL,
  type       INTEGER NOT NULL,               -- STT_*
  bind       INTEGER NOT NULL,               -- STB_*
  visibility INTEGER NOT NULL,               -- STV_*
  shndx      INTEGER NOT NULL,               -- section index, SHN_XINDEX resolved
  nm_letter  TEXT,                           -- as `nm` prints it; NULL when nm does not list it
  ks_letter  TEXT,                           -- as /proc/kallsyms prints it; NULL when kallsyms hides it
  sympos     INTEGER,                        -- livepatch position when the name occurs 2+ times among the
                                             -- object's kallsyms-visible symbols; NULL for a unique name
  ftrace     INTEGER,                        -- functions: 1 with an ftrace call site (__mcount_loc), 0 without
                                             -- (notrace: kprobe events refuse it); NULL when not known
  PRIMARY KEY (object_id, idx)
) WITHOUT ROWID;

-- vmlinux's kallsyms as the kernel itself stores it (decoded from kallsyms_names & co.): the exact list,
-- letters and order /proc/kallsyms shows, each entry matched to its .symtab symbol by name and address.
CREATE TABLE kallsyms_entries (
  object_id  INTEGER NOT NULL REFERENCES objects(id),
  pos        INTEGER NOT NULL,               -- position in the table = /proc/kallsyms order
  name       TEXT NOT NULL,
  letter     TEXT NOT NULL,
  address    TEXT NOT NULL,                  -- link-time address, 16 hex digits
  symbol_idx INTEGER,                        -- the matching symbols.idx; NULL when .symtab has no twin
  sympos     INTEGER NOT NULL,               -- klp_find_object_symbol's position (0: unique name)
  PRIMARY KEY (object_id, pos)
) WITHOUT ROWID;

-- Definition sites from DWARF (pass 2): every symbol of a name duplicated inside its object, or with
-- --all-sites every function and variable. Paths are relative to the kernel source root.
CREATE TABLE sites (
  object_id INTEGER NOT NULL REFERENCES objects(id),
  idx       INTEGER NOT NULL,                -- symbols.idx
  decl_file TEXT,
  decl_line INTEGER,
  unit      TEXT,                            -- the compilation unit (DW_AT_name of the CU)
  source    TEXT NOT NULL CHECK (source IN ('decl', 'line-table', 'unit-only', 'none')),
  PRIMARY KEY (object_id, idx)
) WITHOUT ROWID;

-- One alias per kallsyms-visible symbol whose name occurs 2+ times inside its object, with its
-- livepatch position (klp_func.old_sympos). Unique names have sympos 0 and no row here.
CREATE TABLE aliases (
  object_id  INTEGER NOT NULL REFERENCES objects(id),
  idx        INTEGER NOT NULL,               -- symbols.idx of the original
  alias      TEXT NOT NULL,
  sympos     INTEGER NOT NULL,
  stage      TEXT NOT NULL CHECK (stage IN ('site', 'unit', 'sympos')),
  full_alias TEXT,                           -- before shortening to KSYM_NAME_LEN, when it was too long
  PRIMARY KEY (object_id, idx)
) WITHOUT ROWID;

-- Modules that `ksymtree apply` rewrote with their aliases (one row per file written; `apply --revert`
-- removes it). `ksymtree verify` checks that each file still hashes to new_sha256. The original bytes are
-- restored from the module itself (its `.ksymtree.apply` section), not from here.
CREATE TABLE applied (
  path            TEXT PRIMARY KEY,          -- the real path of the file apply wrote (symlinks resolved)
  object_id       INTEGER NOT NULL REFERENCES objects(id),
  alias_count     INTEGER NOT NULL,
  compression     TEXT NOT NULL,             -- none, gzip, xz, zstd (the file's format, kept by apply)
  signature       TEXT NOT NULL CHECK (signature IN ('none', 'stripped', 'resigned')),
  original_sha256 TEXT NOT NULL,             -- of the file before apply, as it was on disk
  new_sha256      TEXT NOT NULL,             -- of the file apply left
  recorded_at     TEXT NOT NULL              -- when the index recorded it, ISO 8601 UTC
) WITHOUT ROWID;

-- Objects that could not be (fully) read: the message names the file, the offset and what was expected.
CREATE TABLE errors (
  object_id INTEGER REFERENCES objects(id),
  path      TEXT NOT NULL,
  offset    INTEGER,
  kind      TEXT NOT NULL,
  message   TEXT NOT NULL
);

-- Indexes are created after the bulk load, which is faster than maintaining them row by row.
-- @indexes
CREATE INDEX symbols_by_name ON symbols (name);
CREATE INDEX objects_by_module ON objects (module_name);
CREATE UNIQUE INDEX aliases_unique_in_object ON aliases (object_id, alias);
CREATE INDEX aliases_by_alias ON aliases (alias);

-- ksymtree catalogue: many kernel builds (release x flavour x architecture) merged from their own indexes
-- (`ksymtree catalog add`), for livepatch checks across builds. It keeps what livepatch resolves by: per build,
-- per object, every kallsyms name with its number of copies, and for names with 2+ copies each copy's alias
-- and definition site in walk (sympos) order. An object whose names, copies and sites are the same in
-- several builds (most modules across stable releases) is stored once (`objsets`, keyed by a hash).
PRAGMA user_version = 1;

CREATE TABLE IF NOT EXISTS builds (
  id        INTEGER PRIMARY KEY,
  release   TEXT,                  -- first word of the modules' vermagic (6.1.0-50-cloud-amd64), NULL without modules
  flavour   TEXT,                  -- the release after <version>-[<abi>-] (6.1.0-50-cloud-amd64, 6.12.117+deb12-cloud-amd64: cloud-amd64), else NULL
  arch      TEXT,                  -- from vmlinux's (else a module's) e_machine: x86_64, aarch64, ...
  build_id  TEXT,                  -- vmlinux's GNU build-id (NULL without vmlinux)
  identity  TEXT NOT NULL UNIQUE,  -- build_id, else the source index's path: adding it again replaces it
  source    TEXT NOT NULL,         -- the index it was merged from
  objects   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS names (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

-- One distinct object content (its kallsyms names, copies and sites).
CREATE TABLE IF NOT EXISTS objsets (
  id   INTEGER PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE        -- sha256 of its name/copy lines
);

CREATE TABLE IF NOT EXISTS build_objects (
  build_id  INTEGER NOT NULL REFERENCES builds(id),
  objname   TEXT NOT NULL,         -- 'vmlinux' or the module name
  objset_id INTEGER NOT NULL REFERENCES objsets(id),
  PRIMARY KEY (build_id, objname)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS objset_names (
  objset_id INTEGER NOT NULL,
  name_id   INTEGER NOT NULL,
  copies    INTEGER NOT NULL,      -- kallsyms entries of that name in the object
  PRIMARY KEY (objset_id, name_id)
) WITHOUT ROWID;

-- Names with 2+ copies: each copy in walk order (rank = the sympos that binds it).
CREATE TABLE IF NOT EXISTS objset_copies (
  objset_id INTEGER NOT NULL,
  name_id   INTEGER NOT NULL,
  rank      INTEGER NOT NULL,
  alias     TEXT,
  decl_file TEXT,
  decl_line INTEGER,
  unit      TEXT,
  section   TEXT,
  letter    TEXT NOT NULL,         -- kallsyms type letter
  PRIMARY KEY (objset_id, name_id, rank)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS objset_names_by_name ON objset_names (name_id);
CREATE INDEX IF NOT EXISTS build_objects_by_objset ON build_objects (objset_id);

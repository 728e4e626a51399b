// The large-object paths (sections read by ranges, relocations found in the on-disk table, strings read by
// pages) must give exactly the sites of the in-memory paths. Fixtures are small, so the threshold is lowered.
import test from 'ava';
import { tuning } from '../src/dwarf/dwarf-file.js';
import { findSites } from '../src/sites/find-sites.js';
import { buildDwarfFixtures } from './helpers/build-dwarf-fixtures.js';
import { haveDwarfdump } from './helpers/dwarf-oracle.js';
import { siteSymbols } from './helpers/dwarf-symbols.js';

const fixtures = haveDwarfdump() ? await buildDwarfFixtures() : null;

for (const f of fixtures?.fixtures ?? []) {
  for (const path of [f.relocatable, ...(f.linked ? [f.linked] : [])]) {
    // Serial: the tests change the module-wide threshold across awaits, and restore it whatever happens.
    test.serial(`${f.name} ${path.endsWith('rel.o') ? 'relocatable' : 'linked'}: ranged reads give the in-memory sites`, async (t) => {
      const requests = (await siteSymbols(path)).map((s) => ({ symtabIndex: s.index }));
      const saved = tuning.diskMin;
      let memory;
      let disk;
      try {
        tuning.diskMin = Infinity;
        memory = await findSites(path, path, requests, { all: true });
        tuning.diskMin = 0;
        disk = await findSites(path, path, requests, { all: true });
      } finally {
        tuning.diskMin = saved;
      }
      t.deepEqual(disk, memory);
      t.true(memory.sites.some((s) => s.source === (f.split ? 'line-table' : 'decl')));
    });
  }
}

// Boot Debian's generic 6.1 amd64 kernel with the module set: bridge, nfc_digital, libceph, mac80211.
// Its corpus is not fetched by scripts/test.sh (5.8 GB unpacked): skipped, by name, when absent.
import { KERNELS } from './harness/kernels.js';
import { kallsymsSuite } from './harness/suite.js';

kallsymsSuite(KERNELS.find((k) => k.id === '6.1-amd64')!, { vmlinuxExact: true, vmlinuxSymposExact: true });

// Boot Debian's 6.1 cloud-amd64 kernel under qemu and hold ksymtree's kallsyms view and sympos against it.
import { KERNELS } from './harness/kernels.js';
import { kallsymsSuite } from './harness/suite.js';

kallsymsSuite(KERNELS.find((k) => k.id === '6.1-cloud-amd64')!, { vmlinuxExact: true, vmlinuxSymposExact: true });

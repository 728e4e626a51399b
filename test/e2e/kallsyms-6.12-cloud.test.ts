// Boot Debian's 6.12 cloud-amd64 kernel; its modules are .ko.xz and go into the initramfs as they are.
import { KERNELS } from './harness/kernels.js';
import { kallsymsSuite } from './harness/suite.js';

kallsymsSuite(KERNELS.find((k) => k.id === '6.12-cloud-amd64')!, { vmlinuxExact: true, vmlinuxSymposExact: true });

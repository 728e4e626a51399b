// The second architecture: Debian's 6.1 cloud-arm64 kernel (CONFIG_KALLSYMS_ALL unset) under
// qemu-system-aarch64 -M virt -cpu max, issue 18's module set; the capture comes back on the one console port.
import { KERNELS } from './harness/kernels.js';
import { kallsymsSuite } from './harness/suite.js';

kallsymsSuite(KERNELS.find((k) => k.id === '6.1-cloud-arm64')!, { vmlinuxExact: true, vmlinuxSymposExact: true });

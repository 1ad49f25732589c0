// Drives every operation of machvm through the typescript-fetch client generated from openapi/openapi.yaml, with its
// generated methods only (no header overrides, no middleware, no hand-written HTTP).
//   node drive.js http://localhost:PORT        exit status 0 when every step held
import {
    BatchCallCallEnum,
    BatchProblemFromJSON,
    Configuration,
    HostApi,
    InheritRequestInheritanceEnum,
    MemoryApi,
    ProblemDetailFromJSON,
    ProblemDetailKernEnum,
    ProblemsApi,
    ResponseError,
    SandboxApi,
    TasksApi,
    VmApi,
} from '../../../target/ts-client/generated';

// node's process, declared here so that no type package beyond TypeScript itself is needed
declare const process: { argv: string[]; exit(code: number): never };

const basePath = process.argv[2];
const config = new Configuration({ basePath });
const host = new HostApi(config);
const tasks = new TasksApi(config);
const vm = new VmApi(config);
const memory = new MemoryApi(config);
const sandbox = new SandboxApi(config);
const problems = new ProblemsApi(config);

function check(what: string, ok: boolean, got?: unknown): void {
    if (!ok) {
        throw new Error(`${what}: got ${JSON.stringify(got)}`);
    }
    console.log(`ok - ${what}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
    return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function bytesOf(blob: Blob): Promise<Uint8Array> {
    return new Uint8Array(await blob.arrayBuffer());
}

/** The failure of a call that must fail: the generated ResponseError. */
async function failure(call: Promise<unknown>): Promise<Response> {
    try {
        await call;
    } catch (e) {
        if (e instanceof ResponseError) {
            return e.response;
        }
        throw e;
    }
    throw new Error('the call succeeded');
}

async function main(): Promise<void> {
    check('host_page_size', (await host.hostPageSize()).pageSize === 16384);
    const task = await tasks.taskCreate({ taskSettings: { name: 'typescript' } });
    const id = task.id;
    check('task_create', task.name === 'typescript', task);
    check('task_info', (await tasks.taskInfo({ task: id })).id === id);
    check('task_list', (await tasks.taskList()).some((t) => t.id === id));
    check('host_statistics', (await host.hostStatistics()).tasks >= 1);
    const allocation = await vm.vmAllocate({ task: id, allocateRequest: { size: '0x20000', anywhere: true } });
    check('vm_allocate', allocation.address === '0x100000000', allocation);

    // raw bytes both ways, 64 KiB, byte for byte
    const bytes = new Uint8Array(64 * 1024);
    for (let i = 0; i < bytes.length; i++) {
        bytes[i] = (i * 31 + (i >> 8)) & 0xff;
    }
    await memory.vmWrite({ task: id, address: '0x100000000', body: new Blob([bytes]) });
    const read = await bytesOf(await memory.vmRead({ task: id, address: '0x100000000', size: '0x10000' }));
    check('vm_write and vm_read of 64 KiB, byte for byte', sameBytes(read, bytes), read.length);
    await memory.vmWriteBase64({ task: id, writeRequest: { address: '0x100010000', data: 'AQID' } });
    check('vm_write_base64', sameBytes(await bytesOf(await memory.vmRead({ task: id, address: '0x100010000',
        size: '3' })), new Uint8Array([1, 2, 3])));

    await vm.vmCopy({ task: id, copyRequest: { sourceAddress: '0x100000000', size: '0x4000',
        destAddress: '0x100014000' } });
    const overwrite = await vm.vmReadOverwrite({ task: id, readOverwriteRequest: { address: '0x100000000',
        size: '16', destAddress: '0x100018000' } });
    check('vm_copy and vm_read_overwrite', overwrite.outsize === '0x10', overwrite);
    await vm.vmInherit({ task: id, inheritRequest: { address: '0x10001c000', size: '0x4000',
        inheritance: InheritRequestInheritanceEnum.Share } });
    await vm.vmProtect({ task: id, protectRequest: { address: '0x10001c000', size: '0x4000', setMaximum: false,
        protection: 'r--' } });
    check('vm_inherit, vm_protect, vm_region',
        (await vm.vmRegion({ task: id, address: '0x10001c000' })).protection === 'r--');
    check('vm_region_walk', (await vm.vmRegionWalk({ task: id })).length === 2);
    const pages = await sandbox.vmPageRangeQuery({ task: id, address: '0x100000000', size: '0x4000' });
    check('vm_page_range_query', pages.dispositions[0] === (0x1 | 0x8 | 0x20), pages.dispositions);
    await sandbox.vmDirtyClear({ task: id });

    // a 403 whose kern is read from the generated problem model
    const refused = await failure(memory.vmWrite({ task: id, address: '0x10001c000', body: new Blob([bytes]) }));
    const problem = ProblemDetailFromJSON(await refused.json());
    check('403 problem with kern', refused.status === 403
        && problem.kern === ProblemDetailKernEnum.KernProtectionFailure && problem.kernReturn === 2, problem);
    check('problem_type', (await problems.problemType({ kern: problem.kern })).status === 403);

    // batches: one that succeeds, one atomic that fails and changes nothing
    const ran = await sandbox.taskBatch({ task: id, batchRequest: { atomic: true, calls: [
        { call: BatchCallCallEnum.VmWrite, address: '0x100010000', data: 'Bw==' },
        { call: BatchCallCallEnum.VmRead, address: '0x100010000', size: '3' },
    ] } });
    check('task_batch', ran.results.map((r) => r.status).join() === '204,200'
        && ran.results[0].problem === null, ran);
    const atomic = await failure(sandbox.taskBatch({ task: id, batchRequest: { atomic: true, calls: [
        { call: BatchCallCallEnum.VmWrite, address: '0x100010000', data: 'CQ==' },
        { call: BatchCallCallEnum.VmWrite, address: '0x10001c000', data: 'CQ==' },
    ] } }));
    const batchProblem = BatchProblemFromJSON(await atomic.json());
    check('atomic task_batch failure', atomic.status === 403 && batchProblem.failedIndex === 1, batchProblem);
    check('the atomic batch changed nothing', (await bytesOf(await memory.vmRead({ task: id,
        address: '0x100010000', size: '1' })))[0] === 7);

    // snapshot download and restore, with a minted and with a chosen id
    const image = await sandbox.taskSnapshot({ task: id, clearDirty: false });
    const restored = await tasks.taskRestore({ body: image });
    check('task_snapshot and task_restore', sameBytes(await bytesOf(await memory.vmRead({ task: restored.id,
        address: '0x100000000', size: '0x10000' })), bytes));
    const chosen = `ts-restored-${Date.now()}`;
    check('task_restore_with_id', (await tasks.taskRestoreWithId({ task: chosen, body: image })).id === chosen);
    // the same uploads as a form's file part
    const formRestored = await tasks.taskRestoreForm({ image });
    check('task_restore_form', sameBytes(await bytesOf(await memory.vmRead({ task: formRestored.id,
        address: '0x100000000', size: '0x10000' })), bytes));
    const formChosen = `${chosen}-form`;
    check('task_restore_with_id_form', (await tasks.taskRestoreWithIdForm({ task: formChosen, image })).id
        === formChosen);
    await memory.vmWriteForm({ task: formChosen, address: '0x100010000', data: new Blob([bytes.subarray(0, 3)]) });
    check('vm_write_form', sameBytes(await bytesOf(await memory.vmRead({ task: formChosen, address: '0x100010000',
        size: '3' })), bytes.subarray(0, 3)));
    check('task_create_with_id', (await tasks.taskCreateWithId({ task: `${chosen}-x`, taskSettings: {} })).id
        === `${chosen}-x`);

    await vm.vmDeallocate({ task: id, rangeRequest: { address: '0x100000000', size: '0x4000' } });
    for (const t of [id, restored.id, chosen, `${chosen}-x`, formRestored.id, formChosen]) {
        await tasks.taskTerminate({ task: t });
    }
    const gone = await failure(tasks.taskInfo({ task: id }));
    check('task_terminate', ProblemDetailFromJSON(await gone.json()).kern
        === ProblemDetailKernEnum.MachSendInvalidDest);
}

main().then(() => console.log('all operations ok'), (e) => {
    console.error(e);
    process.exit(1);
});

// The hand-written OPFS baseline's worker: writes the chunks it is sent to one file with a
// FileSystemSyncAccessHandle, flushing every `flushBytes`, and answers each flush (after which
// a real pipeline would commit its offset) and the end.
let handle = null, offset = 0, unflushed = 0, flushBytes = 0, dir = null, name = '', noWrite = false;
onmessage = async ({ data }) => {
  if (data.op === 'open') {
    dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('bench', { create: true });
    name = data.name;
    handle = await (await dir.getFileHandle(name, { create: true })).createSyncAccessHandle();
    handle.truncate(0);
    if (data.prealloc) handle.truncate(data.prealloc);
    offset = 0; unflushed = 0; flushBytes = data.flushBytes; noWrite = data.noWrite;
    postMessage({ op: 'opened' });
  } else if (data.op === 'write') {
    const n = noWrite ? data.bytes.byteLength : handle.write(data.bytes, { at: offset });
    offset += n; unflushed += n;
    if (unflushed >= flushBytes) { handle.flush(); unflushed = 0; postMessage({ op: 'flushed', offset }); }
  } else if (data.op === 'end') {
    handle.flush();
    handle.close();
    await dir.removeEntry(name);
    postMessage({ op: 'ended', offset });
  }
};

import Foundation
import ZIPFoundation

/// A `torch.save` checkpoint (`.pth`, `.pt`, `.bin`) in the zip format PyTorch has written since 1.6:
/// `<name>/data.pkl` (the pickled state_dict), `<name>/data/<key>` (one raw little-endian storage
/// per key) and `<name>/byteorder`. Tensors are read from the archive when loaded.
public struct TorchCheckpoint: Sendable {
    public let path: String
    public let entries: [String: TensorEntry]

    /// Largest `data.pkl` accepted: a state_dict's pickle is a few bytes per tensor.
    static let maximumPickleSize = 256 << 20

    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            if FileManager.default.isReadableFile(atPath: path) {
                throw TorchCheckpoint.legacyOrNotZip(path: path)
            }
            throw CheckpointError.unreadable(path: path, reason: "\(error)")
        }
        let reader = ArchiveReader(archive: archive, path: path)
        let files = Dictionary(archive.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        guard let pickleEntry = files.values.filter({ $0.path == "data.pkl" || $0.path.hasSuffix("/data.pkl") })
            .min(by: { $0.path.count < $1.path.count }) else {
            throw CheckpointError.malformed(path: path, reason: "zip archive has no data.pkl: not a torch.save checkpoint")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        if let byteOrderEntry = files[prefix + "byteorder"] {
            let order = String(decoding: try reader.extract(byteOrderEntry, limit: 16), as: UTF8.self)
            guard order == "little" else {
                throw CheckpointError.unsupportedFormat(path: path, reason: "storages are \(order)-endian; only little-endian checkpoints are supported")
            }
        }
        let pickle = try reader.extract(pickleEntry, limit: TorchCheckpoint.maximumPickleSize)
        let root: PickleValue
        do {
            root = try TorchUnpickler.load(pickle)
        } catch let PickleError.disallowedGlobal(name) {
            throw CheckpointError.disallowedGlobal(path: path, name: name)
        } catch {
            throw CheckpointError.malformed(path: path, reason: "\(prefix)data.pkl: \(error)")
        }
        let tensors = try TorchCheckpoint.stateDictTensors(root, path: path)

        var storages: [String: ArchivedStorage] = [:]
        var entries: [String: TensorEntry] = [:]
        for (key, tensor) in tensors {
            let reference = tensor.storage
            let storage: ArchivedStorage
            if let existing = storages[reference.key] {
                // Every reference to a storage must describe it the same way: the file's size was checked
                // against the first one, and a view is checked against the reference it came with.
                guard existing.dtype == reference.dtype, existing.elementCount == reference.elementCount else {
                    throw CheckpointError.malformed(path: path, reason: "tensor '\(key)' declares storage '\(reference.key)' as \(reference.elementCount) x \(reference.dtype.rawValue), an earlier tensor as \(existing.elementCount) x \(existing.dtype.rawValue)")
                }
                storage = existing
            } else {
                guard let file = files[prefix + "data/" + reference.key] else {
                    throw CheckpointError.malformed(path: path, reason: "tensor '\(key)' refers to storage '\(reference.key)', which the archive lacks")
                }
                let expectedBytes = reference.elementCount.multipliedReportingOverflow(by: reference.dtype.byteSize)
                guard !expectedBytes.overflow, file.uncompressedSize == UInt64(expectedBytes.partialValue) else {
                    throw CheckpointError.malformed(path: path, reason: "storage '\(reference.key)' holds \(file.uncompressedSize) bytes, expected \(reference.elementCount) x \(reference.dtype.rawValue)")
                }
                storage = ArchivedStorage(reader: reader, entry: file, dtype: reference.dtype, elementCount: reference.elementCount)
                storages[reference.key] = storage
            }
            guard let needed = TensorEntry.storageElementsNeeded(shape: tensor.shape, strides: tensor.strides, offset: tensor.storageOffset),
                  needed <= storage.elementCount else {
                throw CheckpointError.malformed(path: path, reason: "tensor '\(key)' (size \(tensor.shape), stride \(tensor.strides), offset \(tensor.storageOffset)) reaches past its \(storage.elementCount)-element storage '\(reference.key)'")
            }
            storage.addUser()
            entries[key] = TensorEntry(shape: tensor.shape, dtype: reference.dtype, strides: tensor.strides,
                                       storage: .archived(storage), storageOffset: tensor.storageOffset)
        }
        self.entries = entries
    }

    /// The top-level dict's string keys and tensor values. Non-tensor values (a bare `int` step
    /// counter, say) are refused by name: a state_dict holds only tensors.
    static func stateDictTensors(_ root: PickleValue, path: String) throws -> [(String, TorchTensorReference)] {
        guard case let .dict(dict) = root else {
            throw CheckpointError.malformed(path: path, reason: "the pickled object is a \(root.kind), not a state_dict")
        }
        var result: [(String, TorchTensorReference)] = []
        var seen: Set<String> = []
        for (key, value) in dict.pairs {
            guard case let .string(name) = key else {
                throw CheckpointError.malformed(path: path, reason: "state_dict key of type \(key.kind)")
            }
            guard case let .tensor(tensor) = value else {
                throw CheckpointError.malformed(path: path, reason: "state_dict entry '\(name)' is a \(value.kind), not a tensor")
            }
            guard seen.insert(name).inserted else {
                throw CheckpointError.malformed(path: path, reason: "state_dict key '\(name)' appears twice")
            }
            result.append((name, tensor))
        }
        return result
    }

    /// Python's pickle magic at the start means the pre-1.6 format (a bare pickle followed by raw
    /// storages), which needs `torch.load` to convert.
    static func legacyOrNotZip(path: String) -> CheckpointError {
        let handle = FileHandle(forReadingAtPath: path)
        let head = (try? handle?.read(upToCount: 2)) ?? nil
        try? handle?.close()
        if let head, head.count == 2, head[head.startIndex] == 0x80 {
            return .unsupportedFormat(path: path, reason: "legacy torch.save format (before PyTorch 1.6); re-save it with a current torch.save or as safetensors")
        }
        return .malformed(path: path, reason: "not a zip archive, so not a torch.save checkpoint")
    }
}

/// Serialises access to one open archive: ZIPFoundation reads through a single `FILE*`, and models
/// may load tensors from several threads.
final class ArchiveReader: @unchecked Sendable {
    private let archive: Archive
    private let lock = NSLock()
    let path: String

    init(archive: Archive, path: String) {
        self.archive = archive
        self.path = path
    }

    func extract(_ entry: Entry, limit: Int) throws -> Data {
        guard entry.uncompressedSize <= UInt64(limit) else {
            throw CheckpointError.malformed(path: path, reason: "\(entry.path) is \(entry.uncompressedSize) bytes, more than the \(limit) expected")
        }
        lock.lock()
        defer { lock.unlock() }
        var data = Data()
        data.reserveCapacity(min(Int(entry.uncompressedSize), 64 << 20))
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in
                guard data.count + chunk.count <= limit else { throw CheckpointError.malformed(path: self.path, reason: "\(entry.path) is longer than its directory entry says") }
                data.append(chunk)
            }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError.malformed(path: path, reason: "\(entry.path): \(error)")
        }
        return data
    }
}

/// One storage file inside a torch archive, extracted (and CRC-checked) when a tensor using it loads.
/// A storage shared by several tensors is inflated once and kept until each of them has loaded, so a
/// small archive whose tensors all view one large storage cannot make the reader inflate it once per tensor.
final class ArchivedStorage: @unchecked Sendable {
    let reader: ArchiveReader
    let entry: Entry
    let dtype: CheckpointDType
    let elementCount: Int
    var byteCount: Int { elementCount * dtype.byteSize }

    private let lock = NSLock()
    private var users = 0
    private var loadsPending = 0
    private var inflated: Data?
    /// How many times the entry was inflated (for tests).
    private(set) var extractions = 0

    init(reader: ArchiveReader, entry: Entry, dtype: CheckpointDType, elementCount: Int) {
        self.reader = reader
        self.entry = entry
        self.dtype = dtype
        self.elementCount = elementCount
    }

    func addUser() {
        lock.withLock {
            users += 1
            loadsPending += 1
        }
    }

    func read() throws -> Data {
        lock.lock()
        defer { lock.unlock() }
        loadsPending = max(loadsPending - 1, 0)
        let data: Data
        if let inflated {
            data = inflated
        } else {
            data = try reader.extract(entry, limit: byteCount)
            extractions += 1
            guard data.count == byteCount else {
                throw CheckpointError.malformed(path: reader.path, reason: "\(entry.path) holds \(data.count) bytes, expected \(byteCount)")
            }
        }
        // Kept while tensors sharing the storage have yet to load; a lone tensor never caches.
        inflated = users > 1 && loadsPending > 0 ? data : nil
        return data
    }
}

// Listing a network's parameters (to count them, report their memory, or check where they live),
// found by reflection over stored properties as mlx-swift's `Module` does: a layer needs no
// bookkeeping of its own, and a layer added later is listed without further code.

import TensorEngine

/// A network or layer whose tensors are its parameters.
public protocol Module {}

extension Module {
    /// Every parameter tensor with a path of the properties that hold it ("downPath.convIn.weight").
    /// Classes (caches of derived values) are not walked: parameters live in value types.
    public func parameters() -> [(path: String, tensor: Tensor)] {
        var found: [(path: String, tensor: Tensor)] = []
        collectParameters(of: self, path: "", into: &found)
        return found
    }

    /// Elements over all parameters.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.tensor.count } }

    /// Bytes the parameters occupy in their storage types.
    public var parameterBytes: Int { parameters().reduce(0) { $0 + $1.tensor.count * $1.tensor.elementType.byteSize } }
}

private func collectParameters(of value: Any, path: String, into found: inout [(path: String, tensor: Tensor)]) {
    if let tensor = value as? Tensor {
        found.append((path, tensor))
        return
    }
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .class { return }
    for (index, child) in mirror.children.enumerated() {
        let name = child.label ?? String(index)
        collectParameters(of: child.value, path: path.isEmpty ? name : path + "." + name, into: &found)
    }
}

extension UNet2DCondition: Module {}
extension ControlNet: Module {}
extension TemporalAutoencoderTiny: Module {}
extension CLIPTextEncoder: Module {}
extension RAFT: Module {}

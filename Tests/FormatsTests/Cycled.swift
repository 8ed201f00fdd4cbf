/// `count` values taken from `values` in turn (zeros when it is empty).
func cycled<T: Numeric>(_ values: [T], _ count: Int) -> [T] {
    values.isEmpty ? Array(repeating: 0, count: count) : (0..<count).map { values[$0 % values.count] }
}

pub struct NumArray; pub enum Num {} pub enum NumType {}

//! What a merchant sells: products, their prices, and promotion codes.

pub mod lines;
pub mod prices;
pub mod products;
pub mod promotion_codes;

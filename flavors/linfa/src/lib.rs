//! linfa flavor: models trained with linfa, stored with postcard

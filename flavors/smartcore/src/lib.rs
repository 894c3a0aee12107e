//! smartcore flavor: models trained with smartcore, stored with postcard
